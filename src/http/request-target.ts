/**
 * The request target (RFC 9112 §3.2), read once at the door. Two things
 * come out of it: the bytes forwarded to the origin (the client's own, only
 * an absolute-form reduced to origin-form), and the normalised path routes
 * are matched on — what an origin resolves the target to (RFC 3986 §6.2.2:
 * unreserved characters decoded, hex in upper case, dot segments removed;
 * empty segments merged, as Apache and nginx do). A target that origins may
 * read in more than one way is refused instead of guessed at.
 */
export interface RequestTarget {
  /** What is forwarded: path and query exactly as received. */
  readonly originForm: string;
  /** The normalised path, for routing; `*` for asterisk-form. */
  readonly path: string;
  /** The authority of an absolute-form target (it replaces Host), else null. */
  readonly authority: string | null;
}

/** `reject`: %2F or %5C inside a segment is refused; `keep`: matched as part of the segment. */
export type EncodedSlashes = 'reject' | 'keep';

export type TargetResult = { readonly ok: true; readonly target: RequestTarget } | { readonly ok: false; readonly detail: string };

const ABSOLUTE = /^(https?):\/\/([^/?#]*)(.*)$/is;
const HEX = /^[0-9A-Fa-f]{2}$/;

const refuse = (detail: string): TargetResult => ({ ok: false, detail });

export function readRequestTarget(raw: string, encodedSlashes: EncodedSlashes): TargetResult {
  if (raw === '*') return { ok: true, target: { originForm: '*', path: '*', authority: null } };
  let originForm = raw;
  let authority: string | null = null;
  if (raw.charCodeAt(0) !== 47 /* / */) {
    const absolute = ABSOLUTE.exec(raw);
    if (!absolute) return refuse('The request target is neither a path (/…) nor an http(s) URL.');
    authority = absolute[2]!;
    if (authority === '' || authority.includes('@')) return refuse('The request target’s authority is empty or carries user information.');
    const rest = absolute[3]!;
    originForm = rest === '' ? '/' : rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest;
    if (originForm.charCodeAt(0) !== 47) return refuse('The request target is neither a path (/…) nor an http(s) URL.');
  }
  const unsafe = unsafeCharacter(originForm);
  if (unsafe !== null) return refuse(unsafe);
  const query = originForm.indexOf('?');
  const given = query === -1 ? originForm : originForm.slice(0, query);
  // Most targets have nothing to normalise: no escape, no dot segment, no empty segment.
  const plain = !given.includes('%') && !given.includes('/.') && !given.includes('//');
  const path = plain ? given : normalisePath(given, encodedSlashes);
  if (typeof path !== 'string') return path;
  return { ok: true, target: { originForm, path, authority } };
}

/** Why the target's characters cannot be forwarded as they are, or null. */
function unsafeCharacter(target: string): string | null {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 35 /* # */) return 'The request target carries a fragment (#); a client never sends one, and origins cut the path there.';
    if (c === 92 /* \ */) return 'The request target carries a backslash, which some origins read as a slash.';
    if (c <= 32 || c >= 127) return 'The request target carries a space, a control character or a non-ASCII byte; percent-encode it.';
    if (c === 37 /* % */ && !HEX.test(target.slice(i + 1, i + 3))) return 'The request target has a "%" that is not followed by two hex digits.';
  }
  return null;
}

/**
 * The path as an origin resolves it, or a refusal. Runs on a path whose
 * characters `unsafeCharacter` accepted.
 */
export function normalisePath(path: string, encodedSlashes: EncodedSlashes): string | TargetResult {
  const out: string[] = [];
  const segments = path.split('/');
  // segments[0] is the empty string before the leading slash.
  for (let i = 1; i < segments.length; i++) {
    const segment = decodeUnreserved(segments[i]!, encodedSlashes);
    if (typeof segment !== 'string') return segment;
    const last = i === segments.length - 1;
    if (segment === '' && !last) continue; // an empty segment: merged with the next
    if (segment === '.') {
      if (last) out.push('');
      continue;
    }
    if (segment === '..') {
      if (out.length === 0) return refuse('The request target climbs above the root with "..".');
      out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(segment);
  }
  return `/${out.join('/')}`;
}

/** %XX of an unreserved character decoded, every other escape in upper case (RFC 3986 §6.2.2.1–2). */
function decodeUnreserved(segment: string, encodedSlashes: EncodedSlashes): string | TargetResult {
  if (!segment.includes('%')) return segment;
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = segment.slice(i + 1, i + 3).toUpperCase();
    i += 2;
    const code = parseInt(hex, 16);
    if (code === 0) return refuse('The request target carries an encoded NUL (%00).');
    if ((code === 0x2f || code === 0x5c) && encodedSlashes === 'reject') {
      return refuse(`The request target carries an encoded ${code === 0x2f ? 'slash (%2F)' : 'backslash (%5C)'} inside a path segment; origins disagree on whether it separates segments.`);
    }
    out += isUnreserved(code) ? String.fromCharCode(code) : `%${hex}`;
  }
  return out;
}

function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2d || code === 0x2e || code === 0x5f || code === 0x7e // - . _ ~
  );
}

/**
 * A Host (or authority) as routes compare it: lower case, without port and
 * without the trailing dot of a fully qualified name; null when it is not a
 * host name or address at all.
 */
export function normaliseHost(host: string): string | null {
  let known = seenHosts.get(host);
  if (known === undefined) {
    known = readHost(host);
    // A gateway sees few hosts; a client inventing them only empties the cache.
    if (seenHosts.size >= 256) seenHosts.clear();
    seenHosts.set(host, known);
  }
  return known;
}

const seenHosts = new Map<string, string | null>();

function readHost(host: string): string | null {
  let name = host.toLowerCase();
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    if (end === -1) return null;
    const rest = name.slice(end + 1);
    if (rest !== '' && !/^:\d*$/.test(rest)) return null;
    return name.slice(0, end + 1);
  }
  const colon = name.lastIndexOf(':');
  if (colon !== -1) {
    if (!/^\d*$/.test(name.slice(colon + 1))) return null;
    name = name.slice(0, colon);
  }
  if (name.endsWith('.')) name = name.slice(0, -1);
  return /^[a-z0-9._~!$&'()*+,;=%-]*$/.test(name) ? name : null;
}
