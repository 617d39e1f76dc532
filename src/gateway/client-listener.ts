import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import type { ListenConfig } from '../config/types.js';
import type { Logger } from '../log/log.js';
import type { Problem } from '../http/problem.js';
import { retireServer } from '../http/retire-server.js';
import { clientErrorProblem } from './client-error.js';
import { ClientConnection } from './client-connection.js';
import type { Exchange } from '../exchange/exchange.js';
import { capConnections, serverTimeouts } from './listener-limits.js';

/** Set once the parser refused the connection's bytes. */
const REFUSED = Symbol('headroom.refused');
type RefusedSocket = Socket & { [REFUSED]?: boolean };

export interface ListenerHandlers {
  /** A request was read: it becomes an exchange on `listener`. */
  request(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean, listener: ClientListener): void;
  /** An exchange's turn on its connection has come. */
  start(exchange: Exchange): void;
  /** An answer on a bare socket (the parser refused what followed, or a switch of protocols was asked). */
  answerOnSocket(socket: Socket, problem: Problem): void;
}

/**
 * The clients' listener: Node's HTTP server with the door's settings, its
 * connections kept in request order (ClientConnection), and what Node's
 * parser refuses answered. A reload changes its limits in place; only a
 * new address binds a new listener, and the old one retires.
 */
export class ClientListener {
  /** Set when a reload moved to another address or the gateway stops: answers then close their connections. */
  retiring = false;
  readonly #server: http.Server;

  private constructor(server: http.Server) {
    this.#server = server;
  }

  static async open(listen: ListenConfig, handlers: ListenerHandlers, logger: Logger): Promise<ClientListener> {
    const server = http.createServer({
      requireHostHeader: false, // checked in checkFraming, so that the 400 is our own answer
      connectionsCheckingInterval: serverTimeouts(listen).connectionsCheckingInterval,
    });
    const listener = new ClientListener(server);
    listener.apply(listen, logger);
    // Node would keep only the first fields in req.headers while its parser
    // frames the body by all of them; the door counts them instead (checkFraming).
    server.maxHeadersCount = 0;
    server.on('request', (req, res) => handlers.request(req, res, false, listener));
    server.on('checkContinue', (req, res) => handlers.request(req, res, true, listener));
    // Refused at the door (checkFraming), as an exchange like any other.
    server.on('checkExpectation', (req, res) => handlers.request(req, res, false, listener));
    server.on('connection', (socket: Socket) => ClientConnection.attach(socket, handlers.start));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: RefusedSocket) => refuseUnparsed(err, socket, handlers, logger));
    // Node hands over the socket of a request that asks to switch protocols
    // (or CONNECT), and reads nothing more of it as HTTP: refused, after the
    // requests before it are answered.
    const refuseSwitch = (req: IncomingMessage, socket: Socket): void => {
      // Node has taken its own listeners off the socket it hands over.
      socket.on('error', () => socket.destroy());
      const problem = switchRefused(req);
      const connection = ClientConnection.of(socket);
      if (connection) connection.finishWith(() => handlers.answerOnSocket(socket, problem));
      else handlers.answerOnSocket(socket, problem);
    };
    server.on('upgrade', refuseSwitch);
    server.on('connect', refuseSwitch);
    server.listen(listen.port, listen.host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
    return listener;
  }

  get address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  /**
   * The limits a reload may change without a new socket; Node reads them
   * per connection or per request. How often heads are checked for
   * `headersTimeout` stays as it was set when the listener opened.
   */
  apply(listen: ListenConfig, logger: Logger): void {
    const server = this.#server;
    const { headersTimeout, requestTimeout, keepAliveTimeout } = serverTimeouts(listen);
    Object.assign(server, { maxHeaderSize: listen.maxHeaderSize, headersTimeout, requestTimeout, keepAliveTimeout });
    capConnections(server, listen.maxConnections, logger);
  }

  /**
   * Stops accepting and lets the connections finish what they are doing
   * for up to `timeout`: idle ones close now, the others after their answer
   * (see `retiring`); whatever is left then is closed.
   */
  async retire(timeout: number): Promise<void> {
    this.retiring = true;
    await retireServer(this.#server, timeout);
  }

  /** Closes every connection now (after a drain that ran out of time). */
  closeAll(): void {
    this.#server.closeAllConnections();
  }
}

/**
 * Node's parser refused the connection's bytes. It reports again on every
 * later read of a broken connection; only the first counts.
 */
function refuseUnparsed(err: NodeJS.ErrnoException, socket: RefusedSocket, handlers: ListenerHandlers, logger: Logger): void {
  if (socket[REFUSED]) return;
  socket[REFUSED] = true;
  const problem = clientErrorProblem(err, socket);
  logger.info({ msg: 'refused at the parser', code: err.code, status: problem?.status, client: socket.remoteAddress });
  const connection = ClientConnection.of(socket);
  if (!problem || !connection) return void socket.destroy();
  const reading = connection.reading;
  if (reading && !reading.req.complete) {
    // Broken inside a body (chunk syntax, say): the origin sees an
    // incomplete request, and the client the reason, then the connection closes.
    if (reading.res.headersSent) return void socket.destroy();
    reading.res.setHeader('Connection', 'close');
    reading.cut(problem);
    return connection.finishWith(() => undefined);
  }
  // Bytes past complete requests that do not parse (a body longer than
  // its Content-Length, say): those requests are answered, then this
  // refusal, and the connection closes; the stray bytes go nowhere.
  connection.finishWith(() => handlers.answerOnSocket(socket, problem));
}

function switchRefused(req: IncomingMessage): Problem {
  if (req.method === 'CONNECT') {
    return {
      status: 501,
      error: 'connect_not_supported',
      detail: 'CONNECT is not carried out: this gateway is a reverse proxy for its origins, not a tunnel.',
      suggestedAction: 'Send requests for the origin’s resources to this gateway directly.',
    };
  }
  return {
    status: 501,
    error: 'upgrade_not_supported',
    detail: `Switching protocols (Upgrade: ${String(req.headers.upgrade ?? '')}) is not carried through this gateway.`,
    suggestedAction: 'Send the request without Upgrade (curl: --http1.1).',
  };
}
