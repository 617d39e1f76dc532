import type { IncomingMessage } from 'node:http';
import type { Exchange } from './exchange.js';
import type { Problem } from '../http/problem.js';

/** Whether the request announced a body that may still be arriving. */
function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * nginx's client_body_timeout for a request being forwarded: when no
 * byte of its body arrives for `timeout` ms, the upload toward the origin
 * is cut (the origin sees an incomplete request) and the client is
 * answered 408 if no response has started; its connection then closes.
 * The reservation goes with the exchange, as for any other end.
 *
 * Started when the gateway begins reading the body for the origin: a
 * client waiting on 100-continue sends nothing before that. Only the
 * client's silence counts: while the gateway itself is not reading (the
 * origin is slower than the client, so the stream is paused), the clock
 * stands still.
 */
export function watchBodyIdle(exchange: Exchange, timeout: number): void {
  const { req, res } = exchange;
  if (!bodyPending(req)) return;
  let watching = true;
  const expire = (): void => {
    if (!watching || req.isPaused()) return; // a 'resume' starts the clock again
    stop();
    if (!res.headersSent) res.setHeader('Connection', 'close');
    exchange.cut(bodyIdleProblem(timeout));
  };
  const timer = setTimeout(expire, timeout);
  timer.unref();
  const restart = (): void => {
    if (watching) timer.refresh();
  };
  const stop = (): void => {
    watching = false;
    clearTimeout(timer);
  };
  req.on('data', restart);
  req.on('resume', restart);
  req.once('end', stop);
  res.once('close', stop);
}

function bodyIdleProblem(timeout: number): Problem {
  return {
    status: 408,
    error: 'request_timeout',
    detail: `No byte of the request body arrived for ${timeout / 1000} s; the upload to the origin was aborted.`,
    suggestedAction: 'Retry the upload; if it stalls again, check the client’s connection or what feeds its upload.',
  };
}
