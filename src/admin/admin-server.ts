import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config/types.js';
import { bearerAllows } from '../http/bearer.js';
import { retireServer } from '../http/retire-server.js';
import { statusText, type Readiness, type StatusWalk } from './status.js';
import { statusPageText } from './status-page.js';
import type { ReloadResult } from '../config/reload-result.js';

export interface AdminServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
  /**
   * Stops accepting and closes once its requests are answered (a reload
   * moved the admin listener: the POST /reload that moved it still gets
   * its answer), within `timeout`.
   */
  retire(timeout: number): Promise<void>;
}

/** Characters per chunk of a large answer: about ten volumes of /status, well under a millisecond of work. */
export const CHUNK_CHARS = 16 * 1024;

/** The pieces joined into chunks of at least `size` characters (the last one shorter), each made only when asked for. */
export function* chunksOf(pieces: Iterable<string>, size: number): Generator<string> {
  let chunk = '';
  for (const piece of pieces) {
    chunk += piece;
    if (chunk.length >= size) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

/** Once the answer takes more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** A plugin's route on the admin listener. */
export interface AdminRoute {
  /** Below `/plugins/<name>`; '' or '/' is the plugin's own root. */
  readonly path: string;
  /** GET (and HEAD) when not said. */
  readonly method?: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

export interface AdminDependencies {
  /** The running configuration's `admin.token` ('' = none): a reload may change it. */
  readonly token: () => string;
  /** The `/status` document, made as it is read: what /status and the status page write. */
  readonly statusWalk: () => StatusWalk;
  readonly readiness: () => Readiness;
  /** Prometheus text, when metrics are on. */
  readonly metrics: ((req: IncomingMessage, res: ServerResponse) => void) | null;
  /** What SIGHUP does: reads the configuration again and swaps it in when valid. */
  readonly reload: () => Promise<ReloadResult>;
  /** A plugin's route for `method path` (under `/plugins/<name>/`), if one has it. */
  readonly pluginRoute?: (method: string, path: string) => AdminRoute | null;
}

/**
 * The admin listener (docs/admin.md), on its own address. `/healthz` and
 * `/readyz` answer without the token, as probes must; `/status`,
 * `/metrics` and the status page need it when one is set; `POST /reload`
 * needs one set, and sent.
 */
export async function startAdmin(config: AdminConfig, deps: AdminDependencies): Promise<AdminServer> {
  const send = (res: ServerResponse, status: number, type: string, body: string, headers: http.OutgoingHttpHeaders = {}): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, body: unknown): void => send(res, status, 'application/json', JSON.stringify(body));
  /**
   * A large answer a chunk at a time, each made only when the last is
   * taken, with the event loop's other work between: a gateway with many
   * volumes keeps proxying while it answers.
   */
  const sendPieces = async (req: IncomingMessage, res: ServerResponse, type: string, walk: () => Iterable<string>): Promise<void> => {
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    // A HEAD's body is dropped: the document is not made for it.
    if (req.method === 'HEAD') return void res.end();
    const pieces = walk();
    try {
      for (const chunk of chunksOf(pieces, CHUNK_CHARS)) {
        if (res.destroyed) return;
        if (!res.write(chunk)) await drained(res);
        // A write to a fast client drains at once, within this turn: the next chunk waits for the next turn all the same.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      res.end();
    } catch (err) {
      // The head is sent: a cut answer is all that can say it failed.
      res.destroy(err as Error);
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/reload') return reload(req, res);
    if (path!.startsWith('/plugins/')) return plugin(req, res, path!);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n', { allow: 'GET, HEAD' });
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const ready = deps.readiness();
      return json(res, ready.ready ? 200 : 503, { status: ready.ready ? 'ready' : 'not ready', waitingFor: ready.waitingFor, ...(ready.notes.length > 0 ? { notes: ready.notes } : {}) });
    }
    if (!bearerAllows(req.headers, deps.token())) return unauthorized(res);
    if (path === '/status') return void sendPieces(req, res, 'application/json', () => statusText(deps.statusWalk()));
    if (path === '/metrics' && deps.metrics) return deps.metrics(req, res);
    if (path === '/') return void sendPieces(req, res, 'text/html; charset=utf-8', () => statusPageText(deps.statusWalk()));
    return json(res, 404, { error: 'not_found', detail: 'try /, /status, /metrics, /healthz or /readyz' });
  };

  /** A plugin's route, behind the token as /status is. */
  const plugin = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    if (!bearerAllows(req.headers, deps.token())) {
      req.resume();
      return unauthorized(res);
    }
    const route = deps.pluginRoute?.(req.method ?? 'GET', path) ?? null;
    if (route === null) {
      req.resume();
      return json(res, 404, { error: 'not_found', detail: `no plugin route ${req.method} ${path}` });
    }
    route.handle(req, res);
  };

  const unauthorized = (res: ServerResponse): void =>
    send(res, 401, 'application/json', JSON.stringify({ error: 'unauthorized', detail: 'send Authorization: Bearer <admin.token>' }), { 'www-authenticate': 'Bearer realm="headroom-admin"' });

  /** POST /reload: as SIGHUP. Never open: without a token anyone who reaches the listener could swap the configuration in. */
  const reload = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    if (req.method !== 'POST') return send(res, 405, 'text/plain', 'POST only\n', { allow: 'POST' });
    if (deps.token() === '') return json(res, 403, { error: 'forbidden', detail: 'POST /reload needs admin.token to be set; or send the process SIGHUP' });
    if (!bearerAllows(req.headers, deps.token())) return unauthorized(res);
    void deps.reload().then((result) => json(res, result.ok ? 200 : 422, result.ok ? { status: 'reloaded', generation: result.generation, changed: result.changed } : { error: 'config_invalid', generation: result.generation, problems: result.problems }));
  };

  const server = http.createServer(handle);
  server.listen(config.port, config.host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
  return {
    address: server.address() as AddressInfo,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
    retire: (timeout) => retireServer(server, timeout),
  };
}
