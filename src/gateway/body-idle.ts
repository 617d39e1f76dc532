import { bodyFraming } from '../http/framing.js';
import type { Problem } from '../http/problem.js';
import type { Exchange } from '../exchange/exchange.js';
import type { ForwardSettings } from '../exchange/generation.js';

/**
 * nginx's client_body_timeout for a request being forwarded: when no
 * byte of its body arrives for `timeout` ms, the upload toward the origin
 * is cut (the origin sees an incomplete request) and the client is
 * answered 408 if no response has started; its connection then closes.
 * The reservation goes with the exchange, as for any other end.
 *
 * Started when the gateway begins reading the body for the origin (a
 * client waiting on 100-continue sends nothing before that), and told of
 * each chunk by the body's stream. Only the client's slowness counts:
 * while the gateway itself is not reading (the origin is slower than the
 * client, so the stream is paused), the clock stands still.
 */
export class BodyIdleWatch {
  readonly #exchange: Exchange;
  readonly #timer: NodeJS.Timeout;
  readonly #limits: BodyLimits;
  #watching = true;
  /** The current rate window: when it began, bytes in it, time the stream stood paused in it. */
  #windowStart = performance.now();
  #windowBytes = 0;
  #pausedFor = 0;
  #pausedAt: number | null = null;

  /** A watch on the exchange's body, or null when no body is still to come. */
  static start(exchange: Exchange, limits: BodyLimits): BodyIdleWatch | null {
    const { req } = exchange;
    if (req.complete || bodyFraming(req).kind === 'none') return null;
    return new BodyIdleWatch(exchange, limits);
  }

  private constructor(exchange: Exchange, limits: BodyLimits) {
    const { req } = exchange;
    this.#exchange = exchange;
    this.#limits = limits;
    this.#timer = setTimeout(() => {
      if (this.#watching && !req.isPaused()) this.#expire(bodyIdleProblem(limits.idleTimeout)); // a 'resume' starts the clock again
    }, limits.idleTimeout);
    this.#timer.unref();
    req.on('pause', () => (this.#pausedAt = performance.now()));
    req.on('resume', () => {
      if (this.#pausedAt !== null) this.#pausedFor += performance.now() - this.#pausedAt;
      this.#pausedAt = null;
      this.touch(0);
    });
    req.on('end', () => this.stop()); // emitted once: no once-wrapper needed
    exchange.onEnd(() => this.stop());
  }

  /**
   * `bytes` of the body arrived. Over each idle-timeout's stretch of time
   * the body must also average minRate (Apache's MinRate): a client
   * trickling a byte now and then would otherwise hold its reservation as
   * long as it likes.
   */
  touch(bytes: number): void {
    if (!this.#watching) return;
    this.#timer.refresh();
    const { minRate, idleTimeout } = this.#limits;
    if (minRate === 0) return;
    this.#windowBytes += bytes;
    const now = performance.now();
    const elapsed = now - this.#windowStart - this.#pausedFor;
    if (elapsed < idleTimeout) return;
    if (this.#windowBytes * 1000 < minRate * elapsed) return this.#expire(tooSlowProblem(minRate, this.#windowBytes, elapsed));
    this.#windowStart = now;
    this.#windowBytes = 0;
    this.#pausedFor = 0;
  }

  #expire(problem: Problem): void {
    const { res } = this.#exchange;
    this.stop();
    if (!res.headersSent) res.setHeader('Connection', 'close');
    this.#exchange.cut(problem);
  }

  stop(): void {
    this.#watching = false;
    clearTimeout(this.#timer);
  }
}

/** How slow a request body may be (set by the exchange's generation). */
export type BodyLimits = ForwardSettings['body'];

function tooSlowProblem(minRate: number, bytes: number, elapsed: number): Problem {
  return {
    status: 408,
    error: 'request_timeout',
    detail: `The request body arrived at ${Math.round((bytes * 1000) / elapsed)} bytes/s, below the ${minRate} bytes/s this gateway needs; the upload to the origin was aborted.`,
    suggestedAction: 'Retry the upload over a faster connection.',
  };
}

function bodyIdleProblem(timeout: number): Problem {
  return {
    status: 408,
    error: 'request_timeout',
    detail: `No byte of the request body arrived for ${timeout / 1000} s; the upload to the origin was aborted.`,
    suggestedAction: 'Retry the upload; if it stalls again, check the client’s connection or what feeds its upload.',
  };
}
