import { Transform, type TransformCallback } from 'node:stream';
import { BodyIdleWatch, type BodyLimits } from './body-idle.js';
import type { Exchange } from './exchange.js';

/**
 * The request body on its way to the origin. Nothing flows until
 * `release()` (called once the outgoing head is on the request: a byte
 * written earlier would make Node write the engine's head instead), and
 * each chunk is told to the exchange's meter before it is passed on, so
 * that the meter can stop the upload before the chunk that must not go.
 * No listener is put on the client's request before then: one would start
 * its flow, and chunks would go nowhere.
 */
export class HeldBody extends Transform {
  readonly #exchange: Exchange;
  readonly #limits: BodyLimits;
  #idle: BodyIdleWatch | null = null;

  constructor(exchange: Exchange, limits: BodyLimits) {
    super();
    this.#exchange = exchange;
    this.#limits = limits;
  }

  release(): void {
    this.#idle = BodyIdleWatch.start(this.#exchange, this.#limits);
    this.#exchange.req.pipe(this);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const exchange = this.#exchange;
    this.#idle?.touch(chunk.length);
    exchange.meter?.(chunk.length);
    if (exchange.cutReason) return done();
    done(null, chunk);
  }
}
