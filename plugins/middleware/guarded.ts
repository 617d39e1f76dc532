import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import type { DescribedRequest, Guard, Problem, Ticket } from '../../src/index.js';

/** What the middleware uses of a guard (`createGuard`): it judges, and answers as the gateway would. */
export type MiddlewareGuard = Pick<Guard, 'check' | 'answer'>;

/** The request as the client sent it; `target` is its URL before any mount path or rewrite took a part of it. */
export function described(req: IncomingMessage, target: string): DescribedRequest {
  return {
    method: req.method ?? 'GET',
    target,
    host: req.headers.host ?? '',
    headers: req.headers,
    remoteAddress: req.socket.remoteAddress,
  };
}

/** Whether the request carries a body (Node's parser frames by Transfer-Encoding over Content-Length). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Ends the ticket exactly once, when the response is over however it ends
 * (sent, refused, the client gone, the proxy failed): a response always
 * closes. Registered before the check, so that a client that leaves while
 * the guard decides is not missed; a ticket that arrives after it is ended
 * at once.
 */
export class TicketHolder {
  #ticket: Ticket | null = null;
  #closed = false;

  constructor(res: ServerResponse) {
    res.once('close', () => {
      this.#closed = true;
      this.#end();
    });
  }

  /** False when the response closed before the ticket came: it was ended already, nothing more to do. */
  hold(ticket: Ticket): boolean {
    this.#ticket = ticket;
    if (this.#closed) this.#end();
    return !this.#closed;
  }

  #end(): void {
    const ticket = this.#ticket;
    this.#ticket = null;
    ticket?.end();
  }
}

/**
 * The client's body on its way to the proxy: each chunk is offered to the
 * ticket before it is passed on (a promise keeps the body paused until it
 * settles), and the chunk after which the ticket cuts is never passed:
 * `cut` is told instead, once, and nothing passes after it.
 */
export class MeteredBody extends Transform {
  readonly #ticket: Ticket;
  readonly #onCut: (problem: Problem) => void;
  #stopped = false;

  constructor(ticket: Ticket, onCut: (problem: Problem) => void) {
    super();
    this.#ticket = ticket;
    this.#onCut = onCut;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#stopped) return done();
    const waiting = this.#ticket.chunk(chunk.length);
    if (waiting) return void waiting.then(() => this.#pass(chunk, done), done);
    this.#pass(chunk, done);
  }

  #pass(chunk: Buffer, done: TransformCallback): void {
    const cut = this.#ticket.cut;
    if (cut === null) return done(null, chunk);
    this.#stopped = true;
    // Not done(): the stream never ends (an end would let the proxy finish a short request); onCut destroys it.
    this.#onCut(cut);
  }
}

/**
 * After a cut: the client's body no longer flows into `body`, and what
 * still arrives is read and dropped by the answer's lingering close; the
 * client gets the answer when no response has started, else its
 * connection is closed (a response half sent cannot be taken back).
 */
export function stopUpload(guard: MiddlewareGuard, req: IncomingMessage, res: ServerResponse, body: MeteredBody, problem: Problem): void {
  req.unpipe(body);
  if (res.headersSent) res.destroy();
  else guard.answer(req, res, problem);
  // unpipe() paused the request: the lingering close reads it on.
  req.resume();
}
