import type { Socket } from 'node:net';
import { writeInfoLine, type Logger } from '../log/log.js';
import type { Exchange } from '../exchange/exchange.js';

const COUNTED = Symbol('headroom.counted');
type CountedSocket = Socket & { [COUNTED]?: { read: number; written: number } };

/**
 * One line per exchange when it ends. Bytes are counted on the connection
 * (head and body, as nginx's $request_length and $bytes_sent), from where
 * the previous exchange on the same connection ended.
 */
export function logAccess(logger: Logger, exchange: Exchange): void {
  const { req, res } = exchange;
  if (!exchange.generation.config.log.access) return;
  const socket = req.socket as CountedSocket;
  const counted = (socket[COUNTED] ??= { read: 0, written: 0 });
  const bytesIn = socket.bytesRead - counted.read;
  const bytesOut = socket.bytesWritten - counted.written;
  counted.read = socket.bytesRead;
  counted.written = socket.bytesWritten;
  const admission = exchange.admission;
  const trace = exchange.span?.spanContext();
  writeInfoLine(logger, {
    msg: 'access',
    method: req.method,
    path: exchange.path || req.url,
    // 499, as nginx logs it: the client went away before the response was complete.
    status: res.writableFinished ? res.statusCode : 499,
    bytesIn,
    bytesOut,
    durationMs: milliseconds(performance.now() - exchange.startedAt),
    origin: exchange.route?.origin.name ?? null,
    upstream: exchange.forwardedAt > 0 ? exchange.route!.origin.address : null,
    upstreamMs: exchange.upstreamMs === null ? null : milliseconds(exchange.upstreamMs),
    decision: admission?.decision,
    reason: admission?.reason,
    constraint: admission?.constraint ?? undefined,
    upstreamFailure: exchange.upstreamFailure ?? undefined,
    client: socket.remoteAddress,
    userAgent: req.headers['user-agent'],
    requestId: exchange.requestId,
    traceId: trace?.traceId,
    spanId: trace?.spanId,
  });
}

/** To the microsecond, as nginx's $request_time is to the millisecond. */
function milliseconds(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
