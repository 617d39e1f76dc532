import type { IncomingHttpHeaders } from 'node:http';
import type { WriteFacts } from './decision.js';

/** Headers that announce a body's full size when Content-Length does not (ownCloud/Nextcloud, macOS Finder, tus). */
const SIZE_HEADERS = ['oc-total-length', 'x-expected-entity-length', 'upload-length'] as const;
const DIGITS = /^\d{1,15}$/;

/** Methods that may make a new file or collection (and so need an inode). */
const CREATING = new Set(['PUT', 'POST', 'MKCOL', 'COPY', 'LOCK']);

/**
 * The expected size (SPEC §4): Content-Length; else the first valid size
 * header; else unknown when a body of unknown length is coming; else 0.
 */
export function declaredBytes(headers: IncomingHttpHeaders): number | null {
  const length = headers['content-length'];
  if (length !== undefined) return Number(length); // Node's parser has checked it is digits
  for (const name of SIZE_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string' && DIGITS.test(value)) return Number(value);
  }
  return headers['transfer-encoding'] === undefined ? 0 : null;
}

export function writeFacts(method: string, headers: IncomingHttpHeaders): WriteFacts {
  return { declaredBytes: declaredBytes(headers), creates: CREATING.has(method) };
}
