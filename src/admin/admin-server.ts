import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config/types.js';
import { bearerAllows } from '../http/bearer.js';
import { retireServer } from '../http/retire-server.js';
import type { GatewayStatus } from './status.js';
import { readiness } from './status.js';
import { statusPage } from './status-page.js';
import type { ReloadResult } from '../config/reload-result.js';
import type { Origin } from '../exchange/origin.js';

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
  readonly origins: () => ReadonlyMap<string, Origin>;
  readonly status: () => GatewayStatus;
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

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/reload') return reload(req, res);
    if (path!.startsWith('/plugins/')) return plugin(req, res, path!);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n', { allow: 'GET, HEAD' });
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const ready = readiness(deps.status(), deps.origins());
      return json(res, ready.ready ? 200 : 503, { status: ready.ready ? 'ready' : 'not ready', waitingFor: ready.waitingFor, ...(ready.notes.length > 0 ? { notes: ready.notes } : {}) });
    }
    if (!bearerAllows(req.headers, deps.token())) return unauthorized(res);
    if (path === '/status') return json(res, 200, deps.status());
    if (path === '/metrics' && deps.metrics) return deps.metrics(req, res);
    if (path === '/') return send(res, 200, 'text/html; charset=utf-8', statusPage(deps.status()));
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
