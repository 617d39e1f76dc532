import type { Socket } from 'node:net';
import type { Exchange } from '../exchange/exchange.js';

const CONNECTION = Symbol('headroom.connection');
/**
 * Requests held in order on one connection. Past it the connection is
 * closed once those are answered, and what was read beyond is not run: a
 * client must be ready to send pipelined requests again on a connection
 * that closes (RFC 9112 §9.3.2).
 */
const READ_AHEAD = 32;
type Tracked = Socket & { [CONNECTION]?: ClientConnection };

/**
 * A client connection's exchanges, run one at a time in the order their
 * requests arrived. Node's parser reads pipelined requests ahead; the
 * gateway runs the next only when the one before has ended, as nginx does,
 * so that a request behind an answer that closes the connection is never
 * run (RFC 9112 §9.6) and answers never interleave. When the connection
 * goes, every exchange still on it ends, run or not.
 */
export class ClientConnection {
  readonly #socket: Socket;
  readonly #queue: Exchange[] = [];
  readonly #start: (exchange: Exchange) => void;
  /** No request after the queued ones is run; set when the connection's bytes cannot be read on. */
  #last: (() => void) | null = null;
  #stopped = false;

  static of(socket: Socket): ClientConnection | undefined {
    return (socket as Tracked)[CONNECTION];
  }

  static attach(socket: Socket, start: (exchange: Exchange) => void): ClientConnection {
    const connection = new ClientConnection(socket, start);
    (socket as Tracked)[CONNECTION] = connection;
    return connection;
  }

  private constructor(socket: Socket, start: (exchange: Exchange) => void) {
    this.#socket = socket;
    this.#start = start;
    socket.once('close', () => {
      for (const exchange of this.#queue.splice(0)) exchange.end();
    });
  }

  /** The exchange whose request was read last, if it has not ended. */
  get reading(): Exchange | undefined {
    return this.#queue.at(-1);
  }

  /** A request was read: it runs now, or when those before it have ended. */
  admit(exchange: Exchange): void {
    if (this.#stopped || this.#last !== null) return void exchange.end();
    this.#queue.push(exchange);
    exchange.onEnd(() => this.#ended(exchange));
    if (this.#queue.length === 1) this.#start(exchange);
    else if (this.#queue.length === READ_AHEAD) {
      // Node's parser would read ahead without end.
      this.#socket.pause();
      this.finishWith(() => this.#socket.destroySoon());
    }
  }

  /**
   * What follows the requests read so far cannot be read (a parser error, an
   * upgrade): those still run, then `last` (an answer of the gateway's own
   * on the socket, say), and nothing after.
   */
  finishWith(last: () => void): void {
    if (this.#last !== null) return;
    this.#last = last;
    if (this.#queue.length === 0) last();
  }

  #ended(exchange: Exchange): void {
    // Nearly always the one at the head: no search, no splice.
    const at = this.#queue[0] === exchange ? 0 : this.#queue.indexOf(exchange);
    if (at === -1) return;
    if (at === 0) this.#queue.shift();
    else this.#queue.splice(at, 1);
    // The answer closed the connection (Node ends the socket after it): the
    // requests read behind it are not run.
    if (this.#socket.writableEnded || this.#socket.destroyed) this.#stopped = true;
    const next = this.#queue[0];
    if (this.#stopped) {
      for (const dropped of this.#queue.splice(0)) dropped.end();
    } else if (next !== undefined && at === 0) {
      this.#start(next);
    } else if (next === undefined && this.#last !== null) {
      this.#last();
    }
  }
}
