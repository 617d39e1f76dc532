import convict from 'convict';
import bytes from 'bytes-iec';
import ms from 'ms';
import { isIP } from 'node:net';

/** A size that may instead be a share of the volume it applies to ("5%"). */
export type Amount = { readonly bytes: number } | { readonly share: number };

// Formats only coerce what they recognise and never throw from `coerce`:
// convict swallows the key path of an error thrown there. `validate` throws,
// and its message says what was expected; the loader appends what was given.

function parseSize(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const parsed = bytes.parse(value.trim());
  return parsed === null ? value : parsed;
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** A size as the configuration writes one (1048576, "512MiB", "10GB"); null when it is not one. */
export function sizeOf(value: unknown): number | null {
  const parsed = parseSize(value);
  return isSize(parsed) ? parsed : null;
}

function parseShare(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  // Out-of-range shares stay as written so that the problem shows "120%".
  const match = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
  const share = match ? Number(match[1]) / 100 : NaN;
  return share <= 1 ? share : value;
}

function isShare(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && value <= 1;
}

function isCidr(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const [address, bits, extra] = value.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const SIZE_EXPECTED = 'expected a size like 1048576, "512MiB" or "10GB"';
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const formats: Record<string, convict.Format> = {
  size: {
    coerce: parseSize,
    validate(value: unknown) {
      if (!isSize(value)) throw new Error(SIZE_EXPECTED);
    },
  },
  'size-or-share': {
    coerce(value: unknown) {
      if (typeof value === 'object' && value !== null) return value;
      const share = parseShare(value);
      if (typeof share === 'number') return { share };
      if (typeof value === 'string' && value.trim().endsWith('%')) return value;
      const size = parseSize(value);
      return isSize(size) ? { bytes: size } : value;
    },
    validate(value: unknown) {
      if (typeof value === 'string' && value.trim().endsWith('%')) {
        throw new Error('expected a share between 0% and 100%');
      }
      const amount = value as Partial<{ bytes: unknown; share: unknown }> | null;
      if (typeof amount !== 'object' || amount === null) {
        throw new Error(`${SIZE_EXPECTED}, or a share like "5%"`);
      }
      if (!('share' in amount) && !('bytes' in amount)) throw new Error(`${SIZE_EXPECTED}, or a share like "5%"`);
      if ('share' in amount && !isShare(amount.share)) {
        throw new Error('expected a share between 0% and 100%');
      }
      if ('bytes' in amount && !isSize(amount.bytes)) throw new Error(SIZE_EXPECTED);
    },
  },
  share: {
    coerce: parseShare,
    validate(value: unknown) {
      if (!isShare(value)) throw new Error('expected a share between 0% and 100%, like "97%"');
    },
  },
  duration: {
    coerce(value: unknown) {
      if (typeof value !== 'string') return value;
      const parsed = ms(value.trim() as ms.StringValue);
      return typeof parsed === 'number' && Number.isFinite(parsed) ? parsed : value;
    },
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw new Error('expected a duration like "500ms", "2s" or "1m"');
      }
    },
  },
  'positive-duration': {
    coerce: (value: unknown) => formats.duration!.coerce!(value),
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
        throw new Error('expected a duration above zero, like "500ms", "2s" or "1m"');
      }
    },
  },
  'http-url': {
    validate(value: unknown) {
      let url: URL | undefined;
      try {
        url = typeof value === 'string' ? new URL(value) : undefined;
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        throw new Error('expected an http(s) URL');
      }
    },
  },
  'json-array': {
    // Environment variables and flags carry arrays of objects as JSON text.
    coerce(value: unknown) {
      if (typeof value !== 'string') return value;
      try {
        return JSON.parse(value) as unknown;
      } catch {
        return value;
      }
    },
    validate(value: unknown) {
      if (!Array.isArray(value)) throw new Error('expected a list');
    },
  },
  'status-list': {
    coerce: (value: unknown) => formats['string-list']!.coerce!(value),
    validate(value: unknown) {
      const entries = Array.isArray(value) ? value : [];
      if (entries.length === 0 || !entries.every((entry) => statusRange(entry) !== null)) {
        throw new Error('expected a list of HTTP statuses or ranges, like [200-399, 401]');
      }
    },
  },
  'redis-url': {
    validate(value: unknown) {
      if (value === '') return;
      let url: URL | undefined;
      try {
        url = typeof value === 'string' ? new URL(value) : undefined;
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) throw new Error('expected a Redis URL like redis://host:6379/0 or rediss://user:password@host:6380');
      if (url.pathname.length > 1 && !/^\/\d+$/.test(url.pathname)) throw new Error('expected a database number after the address, like redis://host:6379/0');
    },
  },
  'string-list': {
    coerce(value: unknown) {
      return typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
    },
    validate(value: unknown) {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.length > 0)) {
        throw new Error('expected a list of non-empty strings');
      }
    },
  },
  token: {
    validate(value: unknown) {
      if (typeof value !== 'string' || !TOKEN.test(value)) {
        throw new Error('expected an HTTP token (letters, digits and !#$%&\'*+.^_`|~-, no spaces)');
      }
    },
  },
  'optional-object': {
    validate(value: unknown) {
      if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
        throw new Error('expected a mapping of keys to values');
      }
    },
  },
  'cidr-list': {
    coerce: (value: unknown) => formats['string-list']!.coerce!(value),
    validate(value: unknown) {
      if (!Array.isArray(value)) throw new Error('expected a list of addresses or CIDR ranges like "10.0.0.0/8" or "::1"');
      for (const entry of value) {
        if (!isCidr(entry)) throw new Error(`expected addresses or CIDR ranges like "10.0.0.0/8" or "::1", and ${JSON.stringify(entry)} is not one`);
      }
    },
  },
  'count-or-auto': countOrAuto(0, 'expected a whole number (0 = none) or "auto"'),
  workers: countOrAuto(1, 'expected a whole number of processes (1 or more) or "auto" (one per core)'),
  port: {
    coerce(value: unknown) {
      return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    },
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
        throw new Error('expected a port number between 0 and 65535');
      }
    },
  },
};

convict.addFormats(formats);

/** An HTTP status (100–599) or a range of them ("200-399") as [lowest, highest]; null when it is neither. */
export function statusRange(entry: unknown): readonly [number, number] | null {
  const text = typeof entry === 'number' ? String(entry) : typeof entry === 'string' ? entry.trim() : '';
  const m = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(text);
  if (!m) return null;
  const low = Number(m[1]);
  const high = Number(m[2] ?? m[1]);
  return low >= 100 && high <= 599 && low <= high ? [low, high] : null;
}

/** A whole number of at least `least`, or "auto"; from the environment or a flag as text. */
function countOrAuto(least: number, expected: string): convict.Format {
  return {
    coerce(value: unknown) {
      return typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
    },
    validate(value: unknown) {
      if (value !== 'auto' && !(typeof value === 'number' && Number.isSafeInteger(value) && value >= least)) throw new Error(expected);
    },
  };
}
