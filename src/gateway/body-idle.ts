import { bodyFraming } from '../http/framing.js';
import type { Problem } from '../http/problem.js';
import type { Exchange } from './exchange.js';

/**
 * nginx's client_body_timeout for a request being forwarded: when no
 * byte of its body arrives for `timeout` ms, the upload toward the origin
 * is cut (the origin sees an incomplete request) and the client is
 * answered 408 if no response has started; its connection then closes.
 * The reservation goes with the exchange, as for any other end.
 *
 * Started when the gateway begins reading the body for the origin (a
 * client waiting on 100-continue sends nothing before that), and told of
 * each chunk by the body's stream. Only the client's silence counts: while
 * the gateway itself is not reading (the origin is slower than the client,
 * so the stream is paused), the clock stands still.
 */
export class BodyIdleWatch {
  readonly #timer: NodeJS.Timeout;
  #watching = true;

  /** A watch on the exchange's body, or null when no body is still to come. */
  static start(exchange: Exchange, timeout: number): BodyIdleWatch | null {
    const { req } = exchange;
    if (req.complete || bodyFraming(req).kind === 'none') return null;
    return new BodyIdleWatch(exchange, timeout);
  }

  private constructor(exchange: Exchange, timeout: number) {
    const { req, res } = exchange;
    this.#timer = setTimeout(() => {
      if (!this.#watching || req.isPaused()) return; // a 'resume' starts the clock again
      this.stop();
      if (!res.headersSent) res.setHeader('Connection', 'close');
      exchange.cut(bodyIdleProblem(timeout));
    }, timeout);
    this.#timer.unref();
    req.on('resume', () => this.touch());
    req.once('end', () => this.stop());
    exchange.onEnd(() => this.stop());
  }

  /** A byte of the body arrived. */
  touch(): void {
    if (this.#watching) this.#timer.refresh();
  }

  stop(): void {
    this.#watching = false;
    clearTimeout(this.#timer);
  }
}

function bodyIdleProblem(timeout: number): Problem {
  return {
    status: 408,
    error: 'request_timeout',
    detail: `No byte of the request body arrived for ${timeout / 1000} s; the upload to the origin was aborted.`,
    suggestedAction: 'Retry the upload; if it stalls again, check the client’s connection or what feeds its upload.',
  };
}
