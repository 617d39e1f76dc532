import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo } from 'node:net';

/** What the origin received, counted as it arrived. */
export interface OriginStats {
  connections: number;
  requests: number;
  bodyBytes: number;
}

export interface SampleOrigin {
  readonly url: string;
  readonly port: number;
  readonly stats: OriginStats;
  close(): Promise<void>;
}

/**
 * A small WebDAV-flavoured file store: PUT, GET, HEAD, DELETE, MKCOL, COPY,
 * MOVE, OPTIONS, PROPFIND, LOCK and UNLOCK on files under `root`. It is the
 * demo's origin and the tests' stand-in for a storage server; like Apache's
 * mod_dav it writes an upload to a temporary file and renames it when the
 * body is complete, so an interrupted upload leaves nothing behind.
 */
export async function startSampleOrigin(root: string, port = 0, host = '127.0.0.1'): Promise<SampleOrigin> {
  const stats: OriginStats = { connections: 0, requests: 0, bodyBytes: 0 };
  const server = http.createServer((req, res) => {
    stats.requests++;
    req.on('data', (chunk: Buffer) => (stats.bodyBytes += chunk.length));
    req.pause(); // counting must not start the flow before a handler pipes the body
    serve(root, req, res).catch((err: NodeJS.ErrnoException) => {
      if (!res.headersSent) reply(res, err.code === 'ENOSPC' ? 507 : 500, `${err.code ?? err.message}\n`);
      else res.destroy();
    });
  });
  server.on('connection', () => stats.connections++);
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    stats,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function reply(res: ServerResponse, status: number, body = '', headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** The file a request path names, or null when it would leave `root`. */
function resolve(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath.split('?')[0]!);
  } catch {
    return null;
  }
  const full = path.resolve(root, `.${path.posix.normalize(decoded)}`);
  return full === root || full.startsWith(root + path.sep) ? full : null;
}

function statOrNull(file: string): Promise<Stats | null> {
  return fs.stat(file).catch(() => null);
}

async function serve(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const file = resolve(root, req.url ?? '/');
  if (file === null) return reply(res, 400, 'bad path\n');
  const stat = await statOrNull(file);
  switch (req.method) {
    case 'GET':
    case 'HEAD': {
      if (!stat) return reply(res, 404, 'not found\n');
      if (stat.isDirectory()) {
        const listing = (await fs.readdir(file)).filter((n) => !n.startsWith('.')).join('\n') + '\n';
        return reply(res, 200, req.method === 'HEAD' ? '' : listing, { 'content-type': 'text/plain' });
      }
      res.writeHead(200, { 'content-length': stat.size, 'content-type': 'application/octet-stream' });
      if (req.method === 'HEAD') return void res.end();
      return pipeline(createReadStream(file), res);
    }
    case 'PUT': {
      if (!(await statOrNull(path.dirname(file)))) return reply(res, 409, 'parent collection missing\n');
      const temp = path.join(path.dirname(file), `.upload-${process.pid}-${Math.random().toString(36).slice(2)}`);
      try {
        await pipeline(req, createWriteStream(temp));
      } catch (err) {
        await fs.rm(temp, { force: true });
        throw err;
      }
      await fs.rename(temp, file);
      return reply(res, stat ? 204 : 201);
    }
    case 'DELETE':
      if (!stat) return reply(res, 404, 'not found\n');
      await fs.rm(file, { recursive: true, force: true });
      return reply(res, 204);
    case 'MKCOL':
      if (stat) return reply(res, 405, 'already exists\n');
      if (!(await statOrNull(path.dirname(file)))) return reply(res, 409, 'parent collection missing\n');
      await fs.mkdir(file);
      return reply(res, 201);
    case 'COPY':
    case 'MOVE': {
      if (!stat) return reply(res, 404, 'not found\n');
      const header = req.headers.destination;
      const destination = typeof header === 'string' ? resolve(root, new URL(header, 'http://x').pathname) : null;
      if (destination === null) return reply(res, 400, 'Destination missing or outside the store\n');
      const existed = await statOrNull(destination);
      if (req.method === 'COPY') await fs.cp(file, destination, { recursive: true });
      else await fs.rename(file, destination);
      return reply(res, existed ? 204 : 201);
    }
    case 'OPTIONS':
      return reply(res, 200, '', { allow: 'OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, LOCK, UNLOCK', dav: '1, 2' });
    case 'PROPFIND': {
      if (!stat) return reply(res, 404, 'not found\n');
      const type = stat.isDirectory() ? '<D:collection/>' : '';
      const body = `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:"><D:response><D:href>${escapeXml(req.url ?? '/')}</D:href><D:propstat><D:prop><D:resourcetype>${type}</D:resourcetype><D:getcontentlength>${stat.size}</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>\n`;
      return reply(res, 207, body, { 'content-type': 'application/xml; charset=utf-8' });
    }
    case 'LOCK': {
      const token = `opaquelocktoken:${path.basename(file)}`;
      const body = `<?xml version="1.0" encoding="utf-8"?>\n<D:prop xmlns:D="DAV:"><D:lockdiscovery><D:activelock><D:locktoken><D:href>${escapeXml(token)}</D:href></D:locktoken></D:activelock></D:lockdiscovery></D:prop>\n`;
      return reply(res, 200, body, { 'content-type': 'application/xml; charset=utf-8', 'lock-token': `<${token}>` });
    }
    case 'UNLOCK':
      return reply(res, 204);
    default:
      return reply(res, 405, 'method not allowed\n');
  }
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
