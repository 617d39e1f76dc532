import http from 'node:http';
import https from 'node:https';
import type { Origin } from '../exchange/origin.js';
import { MultistatusReader } from './multistatus.js';

/** What a COPY (or a MOVE across volumes) writes: the size of its source. */
export type SourceSize =
  | { readonly known: true; readonly bytes: number; readonly inodes: number }
  | { readonly known: false; readonly why: string };

export interface WalkBounds {
  /** Most resources a collection's walk may list before its size counts as unknown. */
  readonly maxEntries: number;
  /** How long learning the size may take, in ms. */
  readonly timeout: number;
}

export interface SourceRequest {
  readonly origin: Origin;
  /** The source's path on the origin, as the COPY's own target goes out. */
  readonly path: string;
  /** Host and Authorization as the COPY carries them, so the origin answers as it would for it. */
  readonly headers: Readonly<Record<string, string>>;
  /** The COPY's Depth: 0 copies a collection without its members. */
  readonly depth0: boolean;
}

const PROPFIND_BODY = '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/></D:prop></D:propfind>';
/** Most of one PROPFIND answer read: a listing this large is past any sensible walk. */
const MAX_ANSWER_CHARACTERS = 16 * 1024 * 1024;

/**
 * The size of a COPY's source, asked of the origin through its own
 * keep-alive pool. A file: a HEAD, whose Content-Length is its size (a path
 * ending in `/` is a collection's, and a HEAD of a collection may answer
 * with an index page, so it is not asked). Else, or when the HEAD gives no
 * plain length: a walk of PROPFIND Depth 1 requests (Depth infinity is
 * often refused) over the collection, within `bounds`; each resource found
 * takes an inode. A source the origin does not have is 0 bytes: the origin
 * answers the COPY itself.
 */
export async function sourceSize(source: SourceRequest, bounds: WalkBounds): Promise<SourceSize> {
  const signal = AbortSignal.timeout(bounds.timeout);
  try {
    if (!source.path.split('?')[0]!.endsWith('/')) {
      const head = await ask(source, 'HEAD', source.path, {}, signal);
      const length = head.headers['content-length'];
      if (head.status === 404) return { known: true, bytes: 0, inodes: 0 };
      if (head.status >= 200 && head.status < 300 && length !== undefined && /^\d+$/.test(length) && head.headers['content-encoding'] === undefined) {
        return { known: true, bytes: Number(length), inodes: 1 };
      }
    }
    return await walk(source, bounds, signal);
  } catch (err) {
    return { known: false, why: signal.aborted ? `the origin did not tell the source's size within ${bounds.timeout} ms` : `asking the origin for the source's size failed: ${(err as Error).message}` };
  }
}

async function walk(source: SourceRequest, bounds: WalkBounds, signal: AbortSignal): Promise<SourceSize> {
  let bytes = 0;
  let inodes = 0;
  const queue = [source.path];
  const seen = new Set<string>();
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    const listing = new MultistatusReader();
    const answer = await ask(source, 'PROPFIND', path, { depth: '1', 'content-type': 'application/xml; charset=utf-8' }, signal, PROPFIND_BODY, listing);
    if (answer.status === 404 && path === source.path) return { known: true, bytes: 0, inodes: 0 };
    if (answer.status !== 207) return { known: false, why: `PROPFIND ${path} answered ${answer.status}` };
    for (const entry of listing.close()) {
      const key = hrefPath(entry.href);
      if (key === null) return { known: false, why: `PROPFIND ${path} listed an unusable href` };
      if (seen.has(trimSlash(key))) continue;
      seen.add(trimSlash(key));
      if (++inodes > bounds.maxEntries) return { known: false, why: `the source holds more than ${bounds.maxEntries} resources` };
      bytes += entry.length;
      const self = trimSlash(key) === trimSlash(path);
      if (entry.collection && !self && !source.depth0) queue.push(key);
      if (source.depth0 && self) return { known: true, bytes, inodes };
    }
  }
  return { known: true, bytes, inodes };
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
}

/** One request to the origin; a 207's body goes to `listing` as it arrives, any other body is discarded. */
function ask(source: SourceRequest, method: string, path: string, extra: Record<string, string>, signal: AbortSignal, body?: string, listing?: MultistatusReader): Promise<Answer> {
  const { origin } = source;
  const target = origin.target;
  const send = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method,
        path,
        agent: origin.agent,
        signal,
        headers: { ...source.headers, ...extra, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) },
      },
      (res) => {
        let size = 0;
        const reading = res.statusCode === 207 ? listing : undefined;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          size += chunk.length;
          if (size > MAX_ANSWER_CHARACTERS) return void req.destroy(new Error(`a PROPFIND answer over ${MAX_ANSWER_CHARACTERS} characters`));
          try {
            reading?.write(chunk);
          } catch (err) {
            req.destroy(new Error(`the origin's PROPFIND answer is not well-formed XML (${(err as Error).message})`));
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** An href's path (it may be a full URL), still percent-encoded, as it is requested again. */
function hrefPath(href: string): string | null {
  if (href.startsWith('/')) return href;
  try {
    const url = new URL(href);
    return url.pathname;
  } catch {
    return null;
  }
}

const trimSlash = (path: string): string => (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path);
