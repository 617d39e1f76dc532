import pino, { type Logger } from 'pino';

export type { Logger };
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * JSON lines on stdout. Writes are asynchronous so that a slow terminal or
 * pipe never stalls the proxy; call `flushLog` before exiting.
 */
export function createLogger(level: LogLevel, destination: pino.DestinationStream = pino.destination({ sync: false })): Logger {
  return pino({ level, base: { service: 'headroom' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

export function flushLog(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
