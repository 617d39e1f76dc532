import pino, { type Logger } from 'pino';

export type { Logger };
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

const FLUSH_EVERY_MS = 1000;

/**
 * JSON lines on stdout. Writes are asynchronous and batched (up to 4 KiB,
 * or a second) so that a slow terminal or pipe never stalls the proxy and
 * a busy one costs one write per batch, not per line; call `flushLog`
 * before exiting.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  // Level names, as operators filter on them (`"level":"warn"`), not pino's numbers.
  return pino({ level, base: { service: 'headroom' }, timestamp: isoTimeOncePerMillisecond, formatters: { level: (label) => ({ level: label }) } }, destination ?? batchedStdout());
}

let stampedAt = -1;
let stamp = '';

/**
 * pino's ISO time, formatted once per millisecond rather than once per line
 * (as nginx caches its time strings): at thousands of access lines a
 * second, formatting dates was a visible share of the request path.
 */
function isoTimeOncePerMillisecond(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

/** Where log lines go by default; a group's primary also writes its workers' lines through it, whole. */
export function batchedStdout(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: FLUSH_EVERY_MS });
}

export function flushLog(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
