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

/**
 * Writes one info line of this logger's format (level, time, bindings,
 * then `fields` in their order; undefined fields left out, as pino leaves
 * them) through its destination, serialised by JSON.stringify rather than
 * pino's per-field serializer: for the access line, which every request
 * writes. `fields` must be plain JSON values (no errors, no serializers).
 */
export function writeInfoLine(logger: Logger, fields: Record<string, unknown>): void {
  if (!logger.isLevelEnabled('info')) return;
  const own = logger as unknown as PinoInternals;
  const body = JSON.stringify(fields);
  own[pino.symbols.streamSym].write(`{"level":"info"${own[pino.symbols.timeSym]()}${own[pino.symbols.chindingsSym]}${body.length > 2 ? ',' : ''}${body.slice(1)}\n`);
}

/** The parts of a pino logger its own serializer uses (pino.symbols). */
interface PinoInternals {
  [pino.symbols.streamSym]: { write(line: string): void };
  [pino.symbols.timeSym]: () => string;
  [pino.symbols.chindingsSym]: string;
}

export function flushLog(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
