/** A request target (RFC 9112 §3.2) reduced to what routing needs. */
export interface RequestTarget {
  /** Path without the query; `*` for asterisk-form. */
  readonly path: string;
  /** The target in origin-form (path and query), to forward. */
  readonly originForm: string;
  /** The authority of an absolute-form target, which overrides Host. */
  readonly authority: string | null;
}

export function parseRequestTarget(target: string): RequestTarget | null {
  if (target.charCodeAt(0) === 47 /* '/' */) {
    const query = target.indexOf('?');
    return { path: query === -1 ? target : target.slice(0, query), originForm: target, authority: null };
  }
  if (target === '*') return { path: '*', originForm: '*', authority: null };
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return { path: url.pathname, originForm: url.pathname + url.search, authority: url.host };
}
