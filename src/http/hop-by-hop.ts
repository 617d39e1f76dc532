import type { IncomingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1, plus the legacy names proxies still meet. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * A copy of `headers` without the hop-by-hop headers and the headers the
 * `Connection` header names. Node frames the copy's message on its own.
 *
 * A copy rather than `delete` in place: deleting properties turns the
 * object into a slow dictionary for everything that reads it afterwards.
 */
export function withoutHopByHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const connection = headers.connection;
  // Nearly every message says only `keep-alive` or `close`, names that are
  // dropped anyway: no list to build.
  const listed = connection && connection !== 'keep-alive' && connection !== 'close' ? connectionNames(connection) : null;
  const out: IncomingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

/** The field names a Connection header lists, in lower case. */
export function connectionNames(connection: string): Set<string> {
  const names = new Set<string>();
  for (const name of connection.split(',')) {
    const key = name.trim().toLowerCase();
    if (key) names.add(key);
  }
  return names;
}
