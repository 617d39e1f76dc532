import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { QuotaAsked } from './asked.js';
import { QuotaFill, type QuotaFigures } from './fill-multistatus.js';
import { bodyFraming } from '../http/framing.js';

/** How much of a PROPFIND body is read for the properties it names; a PROPFIND body is a short list. */
const ASKED_LIMIT = 64 * 1024;

/**
 * For a PROPFIND with a body: a watch over the body as it goes to the
 * origin (`body`: the stream the origin is fed from), telling which quota
 * properties it asks for. Null for any other request.
 */
export function watchQuotaAsked(req: IncomingMessage, body: Readable): QuotaAsked | null {
  if (req.method !== 'PROPFIND' || bodyFraming(req).kind === 'none') return null;
  const watch = new QuotaAsked(ASKED_LIMIT);
  body.on('data', (chunk: Buffer) => watch.write(chunk));
  body.once('end', () => watch.end());
  return watch;
}

/**
 * The transform the origin's answer goes through, or null when it passes
 * as it is: a 207 to a PROPFIND that asked for quota properties, in a body
 * the transform can read (no content coding, UTF-8), with fresh figures.
 * `headers` are the client's response headers: the length goes, as the body changes.
 */
export function quotaFillFor(watch: QuotaAsked | null, proxyRes: IncomingMessage, headers: OutgoingHttpHeaders, figures: () => QuotaFigures | null): QuotaFill | null {
  if (watch === null || proxyRes.statusCode !== 207 || watch.asked.size === 0) return null;
  const coding = proxyRes.headers['content-encoding'];
  if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') return null;
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(proxyRes.headers['content-type'] ?? '')?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) return null;
  const known = figures();
  if (known === null) return null;
  delete headers['content-length'];
  return new QuotaFill(known, watch.asked);
}
