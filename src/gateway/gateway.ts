import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ConfigResult } from '../config/load.js';
import type { ReloadResult } from '../config/reload-result.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log/log.js';
import { discardBody } from '../http/linger.js';
import { sendProblem, sendProblemOnSocket } from '../http/own-answer.js';
import type { Problem } from '../http/problem.js';
import { logAccess } from './access-log.js';
import { ClientConnection } from './client-connection.js';
import { ClientListener } from './client-listener.js';
import { configChanges, restartOnly } from './config-changes.js';
import { Exchange } from '../exchange/exchange.js';
import type { Generation } from '../exchange/generation.js';
import { buildGeneration } from './generation.js';
import type { Constraint } from '../exchange/constraint.js';
import type { Origin } from '../exchange/origin.js';
import type { Step } from '../exchange/step.js';
import { Upstream } from './upstream.js';
import { quotaFigures } from '../quota/figures.js';
import { HeadroomRegistry } from '../headroom/registry.js';
import { SourceSet } from './source-set.js';
import { startAdmin, type AdminServer } from '../admin/admin-server.js';
import { gatewayStatus, readiness, statusWalk } from '../admin/status.js';
import { GrowthHistory } from '../headroom/growth.js';
import { startProviders } from '../telemetry/providers.js';
import { ExchangeTracing } from '../telemetry/exchange-tracing.js';
import { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import type { Ledger } from '../ledger/ledger.js';
import { openLedger } from '../ledger/open-ledger.js';
import { describedMessage, describedResponse, verdictOf } from '../admission/described.js';
import { roomGuard } from '../admission/room-guard.js';
import type { DescribedRequest, Verdict } from '../admission/verdict.js';
import { PluginHost, type ContextFor } from '../plugin/plugin-host.js';
import { resolvePlugins, type ResolvedPlugin } from '../plugin/resolve-plugins.js';

export interface GatewayOptions {
  readonly logger: Logger;
  /** Admission constraints that judge after the storage guard, in order. */
  readonly constraints?: readonly Constraint[];
  /** Steps that run after admission, before forwarding. */
  readonly steps?: readonly Step[];
  /** Reservations of admitted writes; a memory ledger of this process when not given. */
  readonly ledger?: Ledger;
  /**
   * Reads the configuration again, as at start (file, environment, flags),
   * for a reload; without it a reload has nothing to read and is refused.
   */
  readonly load?: () => ConfigResult;
  /**
   * What this process is of the gateway: `whole` (the default) runs it all;
   * in a group of processes (workers) the `primary` runs the sources and
   * the admin listener but no client listener, and each `worker` the
   * client listener but neither (its registry is fed by the primary); a
   * `guard` (createGuard) runs all but the client listener: another proxy
   * moves the bytes and asks it (`check`).
   */
  readonly part?: GatewayPart;
  /** The admin listener's `/metrics` text from this process's own (the group's primary adds its workers'). */
  readonly adminMetrics?: (own: string) => Promise<string>;
  /** The volume registry to use (a group's worker fills it before its listener opens); a new one when not given. */
  readonly registry?: HeadroomRegistry;
  /** What `POST /reload` does, when not this gateway's own reload (the group's primary reloads the group). */
  readonly adminReload?: () => Promise<ReloadResult>;
}

export type GatewayPart = 'whole' | 'primary' | 'worker' | 'guard';

export type { ReloadResult };

export interface Gateway {
  readonly address: AddressInfo;
  readonly adminAddress: AddressInfo;
  readonly registry: HeadroomRegistry;
  readonly ledger: Ledger;
  /** The generation new exchanges start on. */
  readonly generation: number;
  /** The origins of that generation (their health and agent status). */
  readonly origins: ReadonlyMap<string, Origin>;
  /**
   * Reads the configuration again (`options.load`) — or takes `read`, read
   * already — and, when it is valid, swaps it in: new exchanges take it,
   * those in flight finish on theirs. A broken one leaves the running
   * generation untouched. Reloads run one at a time.
   */
  reload(read?: ConfigResult): Promise<ReloadResult>;
  /** This process's metrics as Prometheus text ('' when metrics are off). */
  metricsText(): Promise<string>;
  /**
   * Judges a request another proxy is about to forward as one arriving
   * here would be judged — routed, then every constraint — without
   * forwarding it (docs/plugins.md#check).
   */
  check(request: DescribedRequest): Promise<Verdict>;
  /**
   * Answers another proxy's request with `problem` as this gateway answers
   * its own (a refusal, an upload's cut), and reads and discards what of
   * its body still arrives (lingering close), so the client, still
   * sending, reads the answer.
   */
  answer(req: IncomingMessage, res: ServerResponse, problem: Problem): void;
  /**
   * Stops accepting connections, lets in-flight exchanges finish for up to
   * `listen.drainTimeout`, then closes whatever is left.
   */
  shutdown(): Promise<void>;
}

/**
 * The gateway: what lives as long as the process — listeners, the volume
 * registry, the ledger, telemetry, the sources — and the generation of
 * configuration each exchange runs on (generation.ts).
 */
export async function startGateway(config: GatewayConfig, options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  const part = options.part ?? 'whole';
  // What other replicas wrote counts as long as a snapshot may be trusted, and a lease may outlive its exchange.
  const keepMs = (): number => current.config.policy.staleAfter + config.ledger.leaseTime;
  const ledger = options.ledger ?? (await openLedger(config.ledger, keepMs, logger));
  // Alone with its volumes (no replicas, no workers), the gateway counts every write to them.
  // A group's worker leaves /status and the volume metrics to its primary: no growth history of its own.
  const registry =
    options.registry ?? new HeadroomRegistry(config.policy, { fed: part === 'worker', exact: !ledger.shared, growth: part === 'worker' ? null : new GrowthHistory() });
  const telemetry = await startProviders(config.telemetry);
  const sources = new SourceSet(registry, logger, telemetry.tracer);
  const build = (number: number, next: GatewayConfig, previous: Generation | null): Generation =>
    buildGeneration(number, next, { registry, ledger, previous: previous?.origins ?? new Map(), constraints: [...(options.constraints ?? []), ...plugins.constraints()], extraSteps: options.steps ?? [] });

  const contextFor: ContextFor = (plugin, configDir, pluginLogger) => ({
    logger: pluginLogger,
    configDir,
    config: () => current.config,
    status: () => status(),
    trusts: (address) => current.forward.head.forwarding.trusts(address),
    ledger,
    check: (request) => check(request),
    roomGuard: (o) => roomGuard(`plugin:${plugin.name}`, o, { ledger, policy: () => current.config.policy }),
    tracer: telemetry.tracer,
    meter: telemetry.meter,
  });
  const plugins = new PluginHost(contextFor, logger);
  // In a group, a plugin runs in every worker (its constraints judge what they take) or, asked for, once in the primary.
  const runsHere = ({ plugin }: ResolvedPlugin): boolean => (part === 'primary' ? plugin.group === 'primary' : part === 'worker' ? plugin.group !== 'primary' : true);
  const resolved = await resolvePlugins(config.plugins);
  if (!resolved.ok) {
    await Promise.all([ledger === options.ledger ? undefined : ledger.close(), telemetry.shutdown()]);
    throw new Error(`the plugins could not be loaded:\n${resolved.problems.join('\n')}`);
  }
  await plugins.apply(resolved.plugins.filter(runsHere));

  let current = build(1, config, null);
  /** Generations a reload replaced whose exchanges are still in flight. */
  const retiring = new Set<Generation>();
  // A count rather than a set of exchanges: nothing needs to enumerate them
  // (draining is a flag each answer reads), and every request would enter
  // and leave the set.
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | null = null;

  /** An answer on a bare socket, then a half-close; it is let go of after the linger time whatever the client does. */
  const answerOnSocket = (socket: Socket, problem: Problem): void => {
    if (!socket.writable) return void socket.destroy();
    sendProblemOnSocket(socket, problem, current.signature);
    setTimeout(() => socket.destroy(), current.linger.time).unref();
  };

  /** The gateway's own answer, then a lingering close of what of the body still arrives. */
  const answerRequest = (req: IncomingMessage, res: ServerResponse, problem: Problem, generation: Generation, close: boolean): void => {
    if (res.headersSent || res.destroyed) return;
    if (close || problem.closes) res.setHeader('Connection', 'close');
    sendProblem(req, res, problem, generation.signature);
    // Also after a refused 100-continue: Node closes that connection, and a
    // client that did not wait for our word is still sending.
    discardBody(req, generation.linger);
  };
  const answer = (exchange: Exchange, problem: Problem): void => answerRequest(exchange.req, exchange.res, problem, exchange.generation, closing(exchange));
  const closing = (exchange: Exchange): boolean => draining || exchange.listener.retiring;

  const tracing = telemetry.tracer ? new ExchangeTracing(telemetry.tracer) : null;
  // A worker's volume figures are the primary's to show (it has the group's ledger figures).
  const metrics = new GatewayMetrics(telemetry.meter, telemetry.bound, part === 'worker' ? null : registry, ledger, () => current.config.policy, () => inFlight, () => originsShown(current, retiring));

  const upstream = new Upstream({
    closing,
    onFailure: answer,
    quotaFigures: (exchange) => quotaFigures(exchange, registry, ledger),
    observer: {
      forwarding: (exchange, head) => {
        exchange.forwardedAt = performance.now();
        tracing?.forward(exchange, head);
      },
      answered: (exchange, status) => {
        exchange.upstreamMs = performance.now() - exchange.forwardedAt;
        metrics.originAnswered(exchange, status);
        tracing?.originAnswered(exchange, status);
      },
      failed: (exchange, reason) => {
        metrics.upstreamFailed(exchange, reason);
        tracing?.upstreamFailed(exchange, reason);
      },
    },
  });

  const proceed = (exchange: Exchange): void => {
    if (exchange.expectsContinue) exchange.res.writeContinue();
    upstream.forward(exchange, exchange.generation.forward);
  };

  const failed = (exchange: Exchange, err: unknown): void => {
    logger.error({ err }, 'a request step failed');
    answer(exchange, internalError);
  };

  const run = (exchange: Exchange, from: number): void => {
    const steps = exchange.generation.steps;
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

  /**
   * Forgets what only replaced generations used: the volumes of origins
   * that are no longer configured once their last exchange has ended, and
   * the connection pools of generations that have drained.
   */
  const collect = (): void => {
    const shown = originsShown(current, retiring);
    registry.retain((state) => current.volumeKeys.has(state.key) || (shown.has(state.origin) && [...retiring].some((g) => g.volumeKeys.has(state.key))));
    const pools = new Set([current, ...retiring].flatMap((g) => [...g.origins.values()].map((o) => o.agent)));
    for (const gone of drainedOrigins) if (!pools.has(gone.agent)) gone.agent.destroy();
    drainedOrigins.clear();
  };
  const drainedOrigins = new Set<Origin>();
  const retire = (generation: Generation): void => {
    retiring.delete(generation);
    for (const origin of generation.origins.values()) drainedOrigins.add(origin);
  };

  /**
   * Counts the exchange in flight until it ends, and traces, meters and
   * logs it then. A described request's is not waited for by a drain: its
   * bytes move through another proxy, and a ticket may be held for the
   * length of a lease; the gateway's stop gives it up.
   */
  const track = (exchange: Exchange, drains: boolean): void => {
    const { generation } = exchange;
    tracing?.start(exchange);
    if (drains) inFlight++;
    generation.inFlight++;
    exchange.onEnd(() => {
      upstream.clientClosed(exchange);
      if (drains) inFlight--;
      tracing?.end(exchange);
      metrics.exchangeEnded(exchange);
      logAccess(logger, exchange);
      if (generation !== current) {
        if (--generation.inFlight === 0) retire(generation);
        if (exchange.route?.origin.exchanges === 0 || generation.inFlight === 0) collect();
      } else {
        generation.inFlight--;
      }
      if (inFlight === 0) drained?.();
    });
  };

  const handle = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean, listener: ClientListener): void => {
    const exchange = new Exchange(req, res, expectsContinue, current, listener);
    track(exchange, true);
    if (closing(exchange)) res.setHeader('Connection', 'close');
    res.once('close', () => exchange.end());
    ClientConnection.of(req.socket)!.admit(exchange);
  };

  /** A described request through the generation's checks; it is in flight (and holds its room) until its ticket ends. */
  const check = async (request: DescribedRequest): Promise<Verdict> => {
    const generation = current;
    const res = describedResponse();
    const exchange = new Exchange(describedMessage(request), res, false, generation, notRetiring);
    track(exchange, false);
    let problem: Problem | undefined;
    try {
      for (const step of generation.checks) {
        problem = await step(exchange);
        if (problem) break;
      }
    } catch (err) {
      logger.error({ err }, 'a check of a described request failed');
      problem = internalError;
    }
    return verdictOf(exchange, res, problem, generation.signature, request.method);
  };

  const handlers = { request: handle, start, answerOnSocket };
  // The group's primary has no client listener: a stand-in that holds no connection.
  // A group's primary and an embedded guard take no client connections.
  const listens = part === 'whole' || part === 'worker';
  let listener: Pick<ClientListener, 'address' | 'retire' | 'apply' | 'closeAll'> = listens ? await ClientListener.open(config.listen, handlers, logger) : noListener;
  const retiringListeners = new Set<Promise<void>>();
  const ownsSources = part !== 'worker';
  if (ownsSources) sources.update(current.origins.values(), config.routes);

  const status = () => gatewayStatus(current.number, originsShown(current, retiring), registry, ledger, current.config.policy);
  const openAdmin = (at: GatewayConfig['admin']): Promise<AdminServer> =>
    startAdmin(at, {
      token: () => current.config.admin.token,
      statusWalk: () => statusWalk(current.number, originsShown(current, retiring), registry, ledger, current.config.policy),
      readiness: () => readiness(originsShown(current, retiring), registry, ledger, current.config.policy),
      metrics: !telemetry.metricsHandler ? null : options.adminMetrics ? metricsOf(options.adminMetrics) : telemetry.metricsHandler,
      reload: options.adminReload ?? (() => reload()),
      pluginRoute: (method, path) => plugins.adminRoute(method, path),
    });
  const metricsOf = (merge: (own: string) => Promise<string>) => (_req: IncomingMessage, res: ServerResponse): void =>
    void telemetry.metricsText().then(merge).then((text) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
      res.end(text);
    });
  let admin: AdminServer | null = part === 'worker' ? null : await openAdmin(config.admin);
  if (admin && part === 'whole') logger.info({ msg: 'gateway listening', host: listener.address.address, port: listener.address.port, admin: `${admin.address.address}:${admin.address.port}`, origins: [...current.origins.keys()], generation: 1 });
  if (part === 'worker') logger.info({ msg: 'worker listening', host: listener.address.address, port: listener.address.port, generation: 1 });
  if (admin && part === 'guard') logger.info({ msg: 'guard started', admin: `${admin.address.address}:${admin.address.port}`, origins: [...current.origins.keys()], generation: 1 });

  /**
   * Swaps in a validated configuration and its plugins; throws (and
   * changes nothing) when its new address cannot be bound or a plugin
   * cannot take it.
   */
  const swap = async (next: GatewayConfig, nextPlugins: readonly ResolvedPlugin[]): Promise<readonly string[]> => {
    const before = current.config;
    const changed = configChanges(before, next);
    const moved = listens && (next.listen.host !== before.listen.host || next.listen.port !== before.listen.port);
    const adminMoved = admin !== null && (next.admin.host !== before.admin.host || next.admin.port !== before.admin.port);
    let newListener: Awaited<ReturnType<typeof ClientListener.open>> | null = null;
    let newAdmin: AdminServer | null = null;
    try {
      newListener = moved ? await ClientListener.open(next.listen, handlers, logger) : null;
      newAdmin = adminMoved ? await openAdmin(next.admin) : null;
    } catch (err) {
      await newListener?.retire(0);
      throw new Error(`the new address could not be bound: ${(err as Error).message}`);
    }
    try {
      await plugins.apply(nextPlugins.filter(runsHere));
    } catch (err) {
      await Promise.all([newListener?.retire(0), newAdmin?.close()]);
      throw new Error(`a plugin could not take the new configuration: ${(err as Error).message}`);
    }
    const old = current;
    current = build(old.number + 1, next, old);
    retiring.add(old);
    if (old.inFlight === 0) retire(old);
    registry.setMarks(next.policy);
    logger.level = next.log.level;
    if (ownsSources) sources.update(current.origins.values(), next.routes);
    if (newListener) {
      const retired = listener.retire(next.listen.drainTimeout);
      retiringListeners.add(retired);
      void retired.finally(() => retiringListeners.delete(retired));
      listener = newListener;
    } else {
      listener.apply(next.listen, logger);
    }
    if (newAdmin && admin) {
      const oldAdmin = admin;
      admin = newAdmin;
      void oldAdmin.retire(next.listen.drainTimeout);
    }
    collect();
    for (const section of restartOnly(config, next)) logger.warn({ msg: `${section} settings take effect at the next restart, not on reload`, section });
    return changed;
  };

  let reloading: Promise<ReloadResult> = Promise.resolve({ ok: true, generation: 1, changed: [] });
  const reloadOnce = async (given?: ConfigResult): Promise<ReloadResult> => {
    if (draining) return { ok: false, generation: current.number, problems: ['the gateway is stopping'] };
    const read: ConfigResult = given ?? (options.load ? options.load() : { ok: false, problems: ['this gateway was started without a configuration to read again'] });
    const refuse = (problems: string[]): ReloadResult => {
      for (const problem of problems) logger.error({ msg: `reload refused: ${problem}` });
      logger.error({ msg: 'reload refused: the running configuration stays', generation: current.number, problems: problems.length });
      return { ok: false, generation: current.number, problems };
    };
    if (!read.ok) return refuse(read.problems);
    const withPlugins = await resolvePlugins(read.config.plugins);
    if (!withPlugins.ok) return refuse(withPlugins.problems);
    try {
      const changed = await swap(read.config, withPlugins.plugins);
      logger.info({ msg: 'reloaded', generation: current.number, changed });
      return { ok: true, generation: current.number, changed };
    } catch (err) {
      return refuse([(err as Error).message]);
    }
  };
  const reload = (read?: ConfigResult): Promise<ReloadResult> => (reloading = reloading.then(() => reloadOnce(read), () => reloadOnce(read)));

  const stop = async (): Promise<void> => {
    draining = true;
    await reloading;
    const drainTimeout = current.config.listen.drainTimeout;
    const closed = listener.retire(drainTimeout);
    // Exchanges in flight close their connections when they answer (see `closing`).
    if (inFlight > 0) {
      const allDone = new Promise<void>((resolve) => (drained = resolve));
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, drainTimeout).unref());
      await Promise.race([allDone, deadline]);
      if (inFlight > 0) logger.warn({ msg: 'drain timeout: closing exchanges still in flight', inFlight });
    }
    listener.closeAll();
    await Promise.all([closed, ...retiringListeners]);
    upstream.close();
    sources.stop();
    await plugins.close();
    await admin?.close();
    if (!options.ledger) await ledger.close();
    const telemetryError = await telemetry.shutdown();
    if (telemetryError) logger.warn({ msg: 'telemetry could not be flushed', error: telemetryError });
    for (const g of [current, ...retiring]) for (const origin of g.origins.values()) origin.agent.destroy();
  };

  let stopping: Promise<void> | null = null;
  const shutdown = (): Promise<void> => (stopping ??= stop()); // a second signal waits for the first drain
  return {
    get address() {
      return listener.address;
    },
    get adminAddress() {
      if (!admin) throw new Error('a worker of a group has no admin listener: the primary has it');
      return admin.address;
    },
    get generation() {
      return current.number;
    },
    get origins() {
      return current.origins;
    },
    metricsText: () => telemetry.metricsText(),
    check,
    answer: (req, res, problem) => answerRequest(req, res, problem, current, draining),
    registry,
    ledger,
    reload,
    shutdown,
  };
}

/**
 * The origins `/status` shows: the current configuration's, then those
 * no longer configured that exchanges are still routed to (until they end).
 */
function originsShown(current: Generation, retiring: ReadonlySet<Generation>): Generation['origins'] {
  if (retiring.size === 0) return current.origins;
  const shown = new Map(current.origins);
  for (const g of retiring) for (const [name, origin] of g.origins) if (origin.exchanges > 0 && !shown.has(name)) shown.set(name, origin);
  return shown;
}

/** The client listener of a gateway that has none (a group's primary, an embedded guard). */
const noListener: Pick<ClientListener, 'address' | 'retire' | 'apply' | 'closeAll'> = {
  get address(): AddressInfo {
    throw new Error('this gateway has no client listener (a group’s primary: its workers have; a guard: the proxy that asks it has)');
  },
  retire: () => Promise.resolve(),
  apply: () => undefined,
  closeAll: () => undefined,
};

/** The listener a described request came on: never this gateway's, never retiring. */
const notRetiring = { retiring: false } as const;

const internalError: Problem = {
  status: 500,
  error: 'internal_error',
  detail: 'The gateway failed while deciding about this request; it was not forwarded.',
  suggestedAction: 'Retry; if it persists, report it with the gateway’s log.',
};
