import type { IncomingHttpHeaders } from 'node:http';
import type { Problem } from '../http/problem.js';

/** Headers that announce a chunked body's full size (ownCloud/Nextcloud, macOS Finder, tus). */
export const SIZE_HEADERS = ['oc-total-length', 'x-expected-entity-length', 'upload-length'] as const;
const DIGITS = /^\d{1,15}$/;

/** Methods that may make a new file or collection (and so need an inode). */
const CREATING = new Set(['PUT', 'POST', 'MKCOL', 'COPY', 'LOCK']);

/** How big a request's body says it is. */
export interface DeclaredSize {
  /** Bytes; null when unknown (chunked, no size header). */
  readonly bytes: number | null;
  /**
   * The size header that declared a chunked body's size: such a body is
   * metered and cut where it passes that size. Null when Content-Length
   * frames the body (Node's parser holds it to that), or nothing declared it.
   */
  readonly header: string | null;
}

/**
 * The expected size: Content-Length; else, on a chunked body, the size
 * headers, which must be decimal and agree with each other; else unknown
 * when a chunked body is coming; else 0.
 *
 * With Content-Length the size headers are not read: tus sends
 * `Upload-Length` (the whole upload's size) on requests whose
 * Content-Length frames one part of it, Nextcloud's chunked upload sends
 * `OC-Total-Length` likewise; Content-Length is the size of this body.
 * A size header that does not parse, or two that disagree, on a chunked
 * body get 400: what the body would be held to is not clear.
 */
export function declaredSize(headers: IncomingHttpHeaders): DeclaredSize | Problem {
  const length = headers['content-length'];
  if (length !== undefined) return { bytes: Number(length), header: null }; // Node's parser has checked it is digits
  if (headers['transfer-encoding'] === undefined) return { bytes: 0, header: null };
  let declared: DeclaredSize = { bytes: null, header: null };
  for (const name of SIZE_HEADERS) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !DIGITS.test(value)) return invalidSize(`${name}: "${String(value)}" is not a size in bytes (decimal digits, sent once).`);
    const bytes = Number(value);
    if (declared.bytes !== null && declared.bytes !== bytes) {
      return invalidSize(`${declared.header}: ${declared.bytes} and ${name}: ${bytes} declare different sizes for one body.`);
    }
    if (declared.bytes === null) declared = { bytes, header: name };
  }
  return declared;
}

/** Inodes a write by `method` may take (a COPY's are counted from its source). */
export function inodesOf(method: string): number {
  return CREATING.has(method) ? 1 : 0;
}

function invalidSize(detail: string): Problem {
  return {
    status: 400,
    error: 'invalid_declared_size',
    detail: `${detail} The request was not forwarded.`,
    suggestedAction: 'Send one size header with the body’s exact length in bytes, or none.',
  };
}
