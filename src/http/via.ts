/**
 * Via (RFC 9110 §7.6.3): `received-protocol received-by [comment]`, one
 * entry per hop, comma-separated, appended — never replacing what is there.
 */

/** `1.1 headroom-1`; the protocol name is omitted for HTTP, as the RFC allows. */
export function viaEntry(httpVersion: string, pseudonym: string): string {
  return `${httpVersion} ${pseudonym}`;
}

export function appendVia(existing: string | string[] | undefined, entry: string): string {
  if (existing === undefined || existing === '') return entry;
  return `${Array.isArray(existing) ? existing.join(', ') : existing}, ${entry}`;
}

/** True when a Via header already names this pseudonym as a hop: a loop. */
export function viaHasPseudonym(via: string | string[] | undefined, pseudonym: string): boolean {
  if (via === undefined) return false;
  const text = Array.isArray(via) ? via.join(',') : via;
  // Cheap precheck: most requests carry no Via, or one that cannot match.
  if (!text.toLowerCase().includes(pseudonym.toLowerCase())) return false;
  return text.split(',').some((hop) => {
    const receivedBy = hop.trim().split(/\s+/)[1];
    return receivedBy !== undefined && receivedBy.toLowerCase() === pseudonym.toLowerCase();
  });
}
