import { Transform, type TransformCallback } from 'node:stream';
import type { Exchange } from './exchange.js';

/**
 * The request body on its way to the origin. Nothing flows until
 * `release()` (called once the outgoing head is on the request: a byte
 * written earlier would make Node write the engine's head instead), and
 * each chunk is told to the exchange's meter before it is passed on, so
 * that the meter can stop the upload before the chunk that must not go.
 */
export class HeldBody extends Transform {
  readonly #exchange: Exchange;

  constructor(exchange: Exchange) {
    super();
    this.#exchange = exchange;
  }

  release(): void {
    this.#exchange.req.pipe(this);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const exchange = this.#exchange;
    exchange.meter?.(chunk.length);
    if (exchange.cutReason) return done();
    done(null, chunk);
  }
}
