import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Whether the request carries `Authorization: Bearer <token>` (the scheme in
 * any case, as HTTP auth schemes are case-insensitive); always true when no
 * token is configured. Compared in constant time (on digests, so that the
 * length of the token does not leak either).
 */
export function bearerAllows(headers: IncomingHttpHeaders, token: string): boolean {
  if (token === '') return true;
  const header = headers.authorization ?? '';
  const given = header.slice(0, 7).toLowerCase() === 'bearer ' ? header.slice(7).trim() : '';
  return timingSafeEqual(digest(given), digest(token));
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
