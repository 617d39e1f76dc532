
const SECRET_KEYS = new Set(['token']);
const REDACTED = '[redacted]';

/** A copy of the config for printing: every non-empty secret replaced. */
export function redact(config: object): unknown {
  return JSON.parse(
    JSON.stringify(config, (key, value: unknown) => {
      if (SECRET_KEYS.has(key) && typeof value === 'string' && value !== '') return REDACTED;
      if (key === 'url' && typeof value === 'string') return redactUrlCredentials(value);
      return value;
    }),
  ) as unknown;
}

/** Passwords in URLs (redis://:secret@host) are secrets too. */
function redactUrlCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = REDACTED;
    return parsed.toString();
  } catch {
    return url;
  }
}
