import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { DescribedRequest, Problem } from '../../src/index.js';

/** How the endpoint reads a request the proxy asks about. */
export interface ReadingOptions {
  /**
   * Envoy's ext_authz (HTTP service) sends the original method and path as
   * its own request line, the path after `path_prefix`: when set (a prefix,
   * possibly ''), a question without X-Original-Method or X-Forwarded-Method
   * is read that way. Null: such a question is refused, since a proxy
   * whose snippet forgot the method would otherwise have every write read
   * as the endpoint's own GET.
   */
  readonly requestLinePrefix: string | null;
}

/** The request the proxy is about to forward, and how big its body says it is. */
export interface Original {
  readonly request: DescribedRequest;
  /** Bytes the body will carry; null when the proxy did not say (chunked, or a proxy that cannot tell). */
  readonly declaredBytes: number | null;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DIGITS = /^\d{1,15}$/;
// Control characters and spaces cannot be in a request target: a header that
// carries one was not made from a request line.
const NOT_IN_TARGET = /[\x00-\x20\x7f]/;

// What the asking request carries that is not the original's: its own framing,
// hop-by-hop fields, the proxies' description, and the endpoint's own headers.
// The asking request's Content-Length frames the question (Envoy sends 0, Go
// proxies send none), never the original body.
const NOT_ORIGINAL = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade',
  'proxy-connection', 'proxy-authorization', 'expect',
  'x-original-method', 'x-original-uri', 'x-original-host', 'x-original-content-length', 'x-original-transfer-encoding',
  'x-forwarded-method', 'x-forwarded-uri', 'x-headroom-token',
]);

/**
 * The original request from the headers each proxy sends: X-Original-Method /
 * -URI / -Host (nginx, as the snippet sets them), X-Forwarded-Method / -Uri /
 * -Host (Caddy, Traefik), or the request line (Envoy). The size comes from
 * X-Original-Content-Length (or -Transfer-Encoding: chunked) or the size
 * headers a chunked upload declares its length in, which proxies forward as
 * any other. Anything that could be read two ways is refused with 400: the
 * endpoint never guesses what it allows.
 */
export function readOriginal(req: IncomingMessage, options: ReadingOptions): Original | Problem {
  const distinct = req.headersDistinct;
  const one = (name: string): string | undefined | Problem => {
    const values = distinct[name];
    if (values === undefined) return undefined;
    if (values.length > 1) return ambiguous(`${name} was sent ${values.length} times.`);
    return values[0];
  };
  const agreeing = (first: string, second: string): string | undefined | Problem => {
    const a = one(first);
    const b = one(second);
    if (isProblem(a)) return a;
    if (isProblem(b)) return b;
    if (a !== undefined && b !== undefined && a !== b) return ambiguous(`${first}: "${a}" and ${second}: "${b}" disagree.`);
    return a ?? b;
  };

  let method = agreeing('x-original-method', 'x-forwarded-method');
  let target = agreeing('x-original-uri', 'x-forwarded-uri');
  if (isProblem(method)) return method;
  if (isProblem(target)) return target;
  if (method === undefined && target === undefined && options.requestLinePrefix !== null) {
    const prefix = options.requestLinePrefix;
    const line = req.url ?? '';
    if (!line.startsWith(prefix)) return ambiguous(`The path "${line}" does not start with the configured prefix "${prefix}".`);
    method = req.method;
    target = line.slice(prefix.length);
    if (!target.startsWith('/')) target = `/${target}`;
  }
  if (method === undefined) return missing('the original method (X-Original-Method or X-Forwarded-Method)');
  if (target === undefined) return missing('the original request target (X-Original-URI or X-Forwarded-Uri)');
  if (!TOKEN.test(method)) return ambiguous(`"${method}" is not one method.`);
  if (!parses(target)) return ambiguous(`"${target}" is not a request target.`);

  const host = agreeing('x-original-host', 'x-forwarded-host');
  if (isProblem(host)) return host;
  const ownHost = one('host');
  if (isProblem(ownHost)) return ownHost;
  const originalHost = host ?? ownHost;
  if (originalHost === undefined || originalHost.includes(',')) return ambiguous(`The original host is ${originalHost === undefined ? 'missing' : `a list ("${originalHost}")`}.`);

  const size = sizeOf(one('x-original-content-length'), one('x-original-transfer-encoding'));
  if (isProblem(size)) return size;

  const headers: IncomingHttpHeaders = {};
  for (const name in req.headers) {
    if (!NOT_ORIGINAL.has(name) && !name.startsWith('x-headroom-')) headers[name] = req.headers[name];
  }
  // The described request is framed as the original body would be, so
  // the gateway judges it by the same rules (a chunked body holds
  // policy.unknownLength, or what its size header declares).
  if (size === null) headers['transfer-encoding'] = 'chunked';
  else headers['content-length'] = String(size);
  return {
    request: { method, target, host: originalHost, headers, remoteAddress: req.socket.remoteAddress },
    declaredBytes: size ?? declaredBySizeHeader(headers),
  };
}

/**
 * Bytes from X-Original-Content-Length; null (unknown) when the proxy
 * says the body is chunked, or says nothing: a proxy that cannot tell the
 * length (Traefik, Caddy for a chunked body) must not have the write read
 * as an empty one. An empty value is a proxy's empty variable: not said.
 */
function sizeOf(length: string | undefined | Problem, encoding: string | undefined | Problem): number | null | Problem {
  if (isProblem(length)) return length;
  if (isProblem(encoding)) return encoding;
  const said = length !== undefined && length !== '';
  const chunked = encoding !== undefined && encoding !== '';
  if (said && chunked) return ambiguous('X-Original-Content-Length and X-Original-Transfer-Encoding were both sent: the body is framed one way or the other.');
  if (!said) return null;
  if (!DIGITS.test(length)) return ambiguous(`X-Original-Content-Length: "${length}" is not a size in bytes.`);
  return Number(length);
}

/** A chunked body's size as its size header declares it (validated again by the gateway). */
function declaredBySizeHeader(headers: IncomingHttpHeaders): number | null {
  for (const name of ['oc-total-length', 'x-expected-entity-length', 'upload-length']) {
    const value = headers[name];
    if (typeof value === 'string' && DIGITS.test(value)) return Number(value);
  }
  return null;
}

function parses(target: string): boolean {
  if (target === '' || NOT_IN_TARGET.test(target)) return false;
  if (target.startsWith('/')) return URL.canParse(target, 'http://h');
  return /^https?:\/\//i.test(target) && URL.canParse(target);
}

export const isProblem = (value: unknown): value is Problem => typeof value === 'object' && value !== null && 'status' in value;

function ambiguous(detail: string): Problem {
  return {
    status: 400,
    error: 'ambiguous_original_request',
    detail: `${detail} The decision endpoint does not guess which request it is asked about; nothing was allowed.`,
    suggestedAction: 'Fix the proxy’s configuration so that it sends the original method, URI, host and size once each (see the decision endpoint’s documentation).',
  };
}

function missing(what: string): Problem {
  return {
    status: 400,
    error: 'ambiguous_original_request',
    detail: `The question did not say ${what}. Nothing was allowed.`,
    suggestedAction: 'Set the headers of the decision endpoint’s snippet for your proxy (see the decision endpoint’s documentation).',
  };
}
