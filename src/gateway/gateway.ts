import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { discardBody } from '../http/linger.js';
import { sendProblem, sendProblemOnSocket, type Signature } from '../http/own-answer.js';
import type { Problem } from '../http/problem.js';
import { viaEntry } from '../http/via.js';
import { ForwardingHeaders } from '../http/forwarding.js';
import { logAccess } from './access-log.js';
import { clientErrorProblem } from './client-error.js';
import { ClientConnection } from './client-connection.js';
import { Exchange } from './exchange.js';
import { createOrigin } from './origin.js';
import { RouteTable } from './route-table.js';
import type { Step } from './step.js';
import { checkFraming } from './steps/check-framing.js';
import { detectLoop } from './steps/detect-loop.js';
import { selectRoute } from './steps/select-route.js';
import { Upstream } from './upstream.js';
import { capConnections, serverTimeouts } from './listener-limits.js';
import { storageGuard } from '../admission/guard.js';
import { HeadroomRegistry } from '../headroom/registry.js';
import { startSources } from '../headroom/sources.js';
import { startAdmin } from '../admin/admin-server.js';
import { gatewayStatus } from '../admin/status.js';
import { startProviders } from '../telemetry/providers.js';
import { ExchangeTracing } from '../telemetry/exchange-tracing.js';
import { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import { checkHealth } from './steps/check-health.js';
import type { Ledger } from '../ledger/ledger.js';
import { MemoryLedger } from '../ledger/memory-ledger.js';

/** Set once the parser refused the connection's bytes. */
const REFUSED = Symbol('headroom.refused');
type RefusedSocket = Socket & { [REFUSED]?: boolean };

export interface GatewayOptions {
  readonly logger: Logger;
  /** Steps that run after the storage guard, before forwarding. */
  readonly steps?: readonly Step[];
}

export interface Gateway {
  readonly address: AddressInfo;
  readonly adminAddress: AddressInfo;
  readonly registry: HeadroomRegistry;
  readonly ledger: Ledger;
  /**
   * Stops accepting connections, lets in-flight exchanges finish for up to
   * `listen.drainTimeout`, then closes whatever is left.
   */
  shutdown(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  const origins = new Map(config.origins.map((o) => [o.name, createOrigin(o)] as const));
  const pseudonym = config.via.enabled ? config.via.pseudonym : null;
  const signature: Signature = { via: pseudonym && viaEntry('1.1', pseudonym), server: config.headers.server };
  const linger = { time: config.listen.lingerTime, bytes: config.listen.lingerBytes };

  const registry = new HeadroomRegistry(config.policy);
  const ledger = new MemoryLedger();
  const telemetry = await startProviders(config.telemetry);
  const stopSources = startSources(origins.values(), config.routes, registry, logger, telemetry.tracer);

  const steps: readonly Step[] = [
    checkFraming(config.listen.maxHeaders),
    ...(pseudonym ? [detectLoop(pseudonym)] : []),
    selectRoute(new RouteTable(config.routes, origins), config.listen.encodedSlashes),
    checkHealth,
    storageGuard({ registry, ledger, policy: config.policy }),
    ...(options.steps ?? []),
  ];

  // A count rather than a set of exchanges: nothing needs to enumerate them
  // (draining is a flag each answer reads), and every request would enter
  // and leave the set.
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | null = null;

  /** An answer on a bare socket, then a half-close; it is let go of after the linger time whatever the client does. */
  const answerOnSocket = (socket: Socket, problem: Problem): void => {
    if (!socket.writable) return void socket.destroy();
    sendProblemOnSocket(socket, problem, signature);
    setTimeout(() => socket.destroy(), linger.time).unref();
  };

  const answer = (exchange: Exchange, problem: Problem): void => {
    const { req, res } = exchange;
    if (res.headersSent || res.destroyed) return;
    if (draining || problem.closes) res.setHeader('Connection', 'close');
    sendProblem(req, res, problem, signature);
    // Also after a refused 100-continue: Node closes that connection, and a
    // client that did not wait for our word is still sending.
    discardBody(req, linger);
  };

  const tracing = telemetry.tracer ? new ExchangeTracing(telemetry.tracer) : null;
  const metrics = new GatewayMetrics(telemetry.meter, registry, ledger, config.policy, () => inFlight);

  const forwarding = new ForwardingHeaders({ xForwarded: config.headers.xForwarded, forwarded: config.headers.forwarded, trustedProxies: config.trustedProxies });
  const upstream = new Upstream({
    head: { pseudonym, forwarding },
    body: { idleTimeout: config.listen.bodyIdleTimeout, minRate: config.listen.minBodyRate },
    closing: () => draining,
    onFailure: answer,
    observer: {
      forwarding: (exchange, head) => {
        exchange.forwardedAt = performance.now();
        tracing?.forward(exchange, head);
      },
      answered: (exchange, status) => {
        metrics.originAnswered(exchange, exchange.forwardedAt);
        tracing?.originAnswered(exchange, status);
      },
      failed: (exchange, reason) => tracing?.upstreamFailed(exchange, reason),
    },
  });

  const proceed = (exchange: Exchange): void => {
    if (exchange.expectsContinue) exchange.res.writeContinue();
    upstream.forward(exchange);
  };

  const failed = (exchange: Exchange, err: unknown): void => {
    logger.error({ err }, 'a request step failed');
    answer(exchange, internalError);
  };

  const run = (exchange: Exchange, from: number): void => {
    for (let i = from; i < steps.length; i++) {
      let outcome: ReturnType<Step>;
      try {
        outcome = steps[i]!(exchange);
      } catch (err) {
        return failed(exchange, err);
      }
      if (outcome instanceof Promise) {
        outcome.then(
          (problem) => {
            if (exchange.ended) return; // the client left while the step waited
            if (problem) answer(exchange, problem);
            else run(exchange, i + 1);
          },
          (err: unknown) => failed(exchange, err),
        );
        return;
      }
      if (outcome) return answer(exchange, outcome);
    }
    proceed(exchange);
  };

  const start = (exchange: Exchange): void => {
    // Cut before it ran (its body broke while an earlier exchange was served): answered, not run.
    if (exchange.cutReason) return answer(exchange, exchange.cutReason);
    run(exchange, 0);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void => {
    const exchange = new Exchange(req, res, expectsContinue);
    tracing?.start(exchange);
    inFlight++;
    if (draining) res.setHeader('Connection', 'close');
    exchange.onEnd(() => {
      upstream.clientClosed(exchange);
      inFlight--;
      tracing?.end(exchange);
      metrics.exchangeEnded(exchange);
      logAccess(logger, exchange);
      if (inFlight === 0) drained?.();
    });
    res.once('close', () => exchange.end());
    ClientConnection.of(req.socket)!.admit(exchange);
  };

  const server = http.createServer({
    maxHeaderSize: config.listen.maxHeaderSize,
    requireHostHeader: false, // checked in checkFraming, so that the 400 is our own answer
    ...serverTimeouts(config.listen),
  });
  capConnections(server, config.listen.maxConnections, logger);
  // Node would keep only the first fields in req.headers while its parser
  // frames the body by all of them; the door counts them instead (checkFraming).
  server.maxHeadersCount = 0;
  server.on('request', (req, res) => handle(req, res, false));
  server.on('checkContinue', (req, res) => handle(req, res, true));
  // Refused at the door (checkFraming), as an exchange like any other.
  server.on('checkExpectation', (req, res) => handle(req, res, false));
  server.on('connection', (socket: Socket) => ClientConnection.attach(socket, start));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: RefusedSocket) => {
    // Node's parser reports again on every later read of a broken connection.
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
    connection.finishWith(() => answerOnSocket(socket, problem));
  });
  // Node hands over the socket of a request that asks to switch protocols
  // (or CONNECT), and reads nothing more of it as HTTP: refused, after the
  // requests before it are answered.
  const refuseSwitch = (req: IncomingMessage, socket: Socket): void => {
    // Node has taken its own listeners off the socket it hands over.
    socket.on('error', () => socket.destroy());
    const problem = switchRefused(req);
    const connection = ClientConnection.of(socket);
    if (connection) connection.finishWith(() => answerOnSocket(socket, problem));
    else answerOnSocket(socket, problem);
  };
  server.on('upgrade', refuseSwitch);
  server.on('connect', refuseSwitch);

  server.listen(config.listen.port, config.listen.host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const admin = await startAdmin(config.admin, {
    origins: [...origins.values()],
    status: () => gatewayStatus(origins.values(), registry, ledger, config.policy),
    metrics: telemetry.metricsHandler,
  });
  logger.info({ msg: 'gateway listening', host: address.address, port: address.port, admin: `${admin.address.address}:${admin.address.port}`, origins: [...origins.keys()] });

  const stop = async (): Promise<void> => {
    draining = true;
    const closed = new Promise((resolve) => server.close(resolve));
    // Exchanges in flight close their connections when they answer (see `closing`).
    if (inFlight > 0) {
      const allDone = new Promise<void>((resolve) => (drained = resolve));
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, config.listen.drainTimeout).unref());
      await Promise.race([allDone, deadline]);
      if (inFlight > 0) logger.warn({ msg: 'drain timeout: closing exchanges still in flight', inFlight });
    }
    server.closeAllConnections();
    await closed;
    upstream.close();
    stopSources();
    await admin.close();
    const telemetryError = await telemetry.shutdown();
    if (telemetryError) logger.warn({ msg: 'telemetry could not be flushed', error: telemetryError });
    for (const origin of origins.values()) origin.agent.destroy();
  };

  let stopping: Promise<void> | null = null;
  const shutdown = (): Promise<void> => (stopping ??= stop()); // a second signal waits for the first drain
  return { address, adminAddress: admin.address, registry, ledger, shutdown };
}

const internalError: Problem = {
  status: 500,
  error: 'internal_error',
  detail: 'The gateway failed while deciding about this request; it was not forwarded.',
  suggestedAction: 'Retry; if it persists, report it with the gateway’s log.',
};

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

