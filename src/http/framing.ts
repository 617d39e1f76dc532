import type { IncomingMessage } from 'node:http';

/** How a request's body is delimited, as this gateway's parser read it. */
export type BodyFraming = { readonly kind: 'none' } | { readonly kind: 'chunked' } | { readonly kind: 'length'; readonly length: number };

const NONE: BodyFraming = { kind: 'none' };
const CHUNKED: BodyFraming = { kind: 'chunked' };

/**
 * Node's parser frames by Transfer-Encoding (only `chunked` gets past the
 * door) over Content-Length, and refuses a request that carries both.
 */
export function bodyFraming(req: IncomingMessage): BodyFraming {
  if (req.headers['transfer-encoding'] !== undefined) return CHUNKED;
  const length = req.headers['content-length'];
  if (length === undefined || length === '0') return NONE;
  return { kind: 'length', length: Number(length) };
}
