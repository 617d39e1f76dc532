import { readFileSync } from 'node:fs';
import type { Server, ServerOptions } from 'node:http';
import type { ListenConfig } from '../config/types.js';
import type { Logger } from '../log/log.js';

/**
 * The client listener's timeouts, in the options Node's server takes.
 * Node looks for heads past `headersTimeout` only every
 * `connectionsCheckingInterval` (30 s unless set): checking at a tenth of
 * the timeout, at least every second, keeps it honoured within that margin.
 * `requestTimeout` would bound a whole request, a long upload included, so
 * it is off; a body that stalls is bodyIdleTimeout's (see body-idle.ts).
 */
export function serverTimeouts(listen: ListenConfig): ServerOptions {
  return {
    headersTimeout: listen.headersTimeout,
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.round(listen.headersTimeout / 10))),
    requestTimeout: 0,
    keepAliveTimeout: listen.keepAliveTimeout,
  };
}

/**
 * File descriptors kept free of client connections: listeners, the admin
 * listener and its clients, agent polls, health checks, telemetry, logs.
 */
const RESERVED_DESCRIPTORS = 64;

/**
 * `listen.maxConnections` as a number (0 = no cap). `auto` leaves room
 * within the open-file limit for each client connection's upstream one:
 * past that limit the kernel resets new clients anyway, and the gateway
 * could no longer reach its origins, poll its agents or answer its admin
 * listener for the connections it already holds.
 */
export function connectionCap(setting: number | 'auto', openFileLimit: () => number | null = currentOpenFileLimit): number {
  if (setting !== 'auto') return setting;
  const limit = openFileLimit();
  return limit === null ? 0 : Math.max(1, Math.floor((limit - RESERVED_DESCRIPTORS) / 2));
}

/** The soft limit in `/proc/<pid>/limits` text, or null when it is unlimited or absent. */
export function openFileLimitIn(limits: string): number | null {
  const match = /^Max open files\s+(\d+)\s/m.exec(limits);
  return match ? Number(match[1]) : null;
}

/** This process's open-file limit (Node raised the soft one to the hard one at start); null off Linux. */
function currentOpenFileLimit(): number | null {
  try {
    return openFileLimitIn(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}

/** How often, at most, that new connections were closed at the cap is logged. */
const DROP_REPORT_INTERVAL = 60_000;

const CAPPED = Symbol('headroom.capped');
type Capped = Server & { [CAPPED]?: true };

/**
 * Caps the server's connections; Node closes each new one past the cap
 * as soon as it is accepted. The cap is logged when set (at start, and by
 * a reload that changes it), and reaching it at most once a minute, with
 * how many were closed meanwhile.
 */
export function capConnections(server: Server, setting: number | 'auto', logger: Logger): void {
  const cap = connectionCap(setting);
  const before = Number.isFinite(server.maxConnections) ? server.maxConnections : 0;
  // No cap is Infinity: Node 20 read 0 as none, Node 22 as "close every connection".
  server.maxConnections = cap === 0 ? Infinity : cap;
  if (before !== cap || !(server as Capped)[CAPPED]) logger.info({ msg: 'connection cap', maxConnections: cap || null, derived: setting === 'auto' });
  if ((server as Capped)[CAPPED]) return;
  (server as Capped)[CAPPED] = true;
  let closed = 0;
  let quiet: NodeJS.Timeout | null = null;
  server.on('drop', () => {
    closed++;
    if (quiet) return;
    logger.warn({ msg: 'connection cap reached: new connections are closed (listen.maxConnections)', maxConnections: server.maxConnections, closed });
    closed = 0;
    quiet = setTimeout(() => (quiet = null), DROP_REPORT_INTERVAL);
    quiet.unref();
  });
}
