import { Transform, type TransformCallback } from 'node:stream';
import { BodyIdleWatch, type BodyLimits } from './body-idle.js';
import { bodyFraming } from '../http/framing.js';
import type { Exchange } from '../exchange/exchange.js';

/**
 * The client's body on its way to the origin. Each chunk is shown to the
 * exchange's holds (which may stop the upload before the chunk that must
 * not go, or keep it waiting for a ledger's answer) and to the body-idle
 * watch before it is passed on.
 *
 * The engine's request must get its path (see Upstream) before anything is
 * written to it, or Node writes the engine's head. On a connection pool
 * without a cap the request gets its socket before the client's body
 * starts to flow (both wait a tick, the socket's first), so the body goes
 * straight; where the pool may queue the request, or a hold may make a
 * chunk wait, the body is held in a stream of its own (until `release()`,
 * and while a chunk waits: backpressure, nothing buffered past the
 * stream's own mark).
 */
export interface OutgoingBody {
  /** What the engine pipes to the origin: the client's request itself when undefined. */
  readonly stream: Transform | undefined;
  /** The engine's request has its head: the body may flow. */
  release(): void;
}

export function outgoingBody(exchange: Exchange, limits: BodyLimits, mayQueue: boolean): OutgoingBody {
  if (!mayQueue && !exchange.mayPause) {
    if (bodyFraming(exchange.req).kind === 'none') return NO_BODY;
    const tap = bodyTap(exchange, BodyIdleWatch.start(exchange, limits));
    // Registered before the engine's pipe: each chunk is judged before it is written.
    exchange.req.on('data', (chunk: Buffer) => tap(chunk.length));
    return { stream: undefined, release: () => undefined };
  }
  const held = new HeldBody(exchange, limits);
  return { stream: held, release: () => held.release() };
}

const NO_BODY: OutgoingBody = { stream: undefined, release: () => undefined };

type Tap = (bytes: number) => void | Promise<void>;

function bodyTap(exchange: Exchange, idle: BodyIdleWatch | null): Tap {
  return (bytes) => {
    idle?.touch(bytes);
    return exchange.chunk(bytes);
  };
}

/**
 * A body held until its request has its head. No listener is put on the
 * client's request before then: one would start its flow, and chunks would
 * go nowhere.
 */
class HeldBody extends Transform {
  readonly #exchange: Exchange;
  readonly #limits: BodyLimits;
  #tap: Tap | null = null;

  constructor(exchange: Exchange, limits: BodyLimits) {
    super();
    this.#exchange = exchange;
    this.#limits = limits;
  }

  release(): void {
    this.#tap = bodyTap(this.#exchange, BodyIdleWatch.start(this.#exchange, this.#limits));
    this.#exchange.req.pipe(this);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const waiting = this.#tap!(chunk.length);
    if (waiting) return void waiting.then(() => this.#pass(chunk, done), done);
    this.#pass(chunk, done);
  }

  #pass(chunk: Buffer, done: TransformCallback): void {
    if (this.#exchange.cutReason) return done();
    done(null, chunk);
  }
}
