import type { Socket } from 'node:net';
import type { Logger } from '../log/log.js';
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
  const socket = req.socket as CountedSocket;
  const counted = (socket[COUNTED] ??= { read: 0, written: 0 });
  const bytesIn = socket.bytesRead - counted.read;
  const bytesOut = socket.bytesWritten - counted.written;
  counted.read = socket.bytesRead;
  counted.written = socket.bytesWritten;
  const admission = exchange.admission;
  logger.info({
    msg: 'access',
    method: req.method,
    path: exchange.path || req.url,
    // 499, as nginx logs it: the client went away before the response was complete.
    status: res.writableFinished ? res.statusCode : 499,
    bytesIn,
    bytesOut,
    durationMs: Math.round((performance.now() - exchange.startedAt) * 1000) / 1000,
    origin: exchange.route?.origin.name ?? null,
    decision: admission?.decision,
    reason: admission?.reason,
    constraint: admission?.constraint ?? undefined,
    upstreamFailure: exchange.upstreamFailure ?? undefined,
    client: socket.remoteAddress,
    request_id: exchange.requestId,
    ...(exchange.span ? { trace_id: exchange.span.spanContext().traceId, span_id: exchange.span.spanContext().spanId } : {}),
  });
}
