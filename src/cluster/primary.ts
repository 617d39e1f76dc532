import cluster, { type Worker } from 'node:cluster';
import type { ConfigResult } from '../config/load.js';
import type { ReloadResult } from '../config/reload-result.js';
import type { GatewayConfig } from '../config/types.js';
import type { Origin } from '../exchange/origin.js';
import type { Gateway } from '../gateway/gateway.js';
import type { VolumeState } from '../headroom/volume-state.js';
import type { Logger } from '../log/log.js';
import { LedgerHost } from './ledger-host.js';
import { mergeMetrics } from './metrics-merge.js';
import type { OriginNews, ToPrimary, ToWorker, VolumeNews } from './messages.js';

export interface GroupOptions {
  readonly logger: Logger;
  /** Reads the configuration again, for a reload. */
  readonly load: () => ConfigResult;
  readonly workers: number;
  /** Where the primary's log lines go: the workers' lines are written through it, whole. */
  readonly log: { write(text: string): unknown };
}

export interface Group {
  /** Reads the configuration once and, when valid, reloads the primary and then every worker with it. */
  reload(): Promise<ReloadResult>;
  /** Drains every worker (each for up to listen.drainTimeout), then stops the primary's sources and admin listener. */
  shutdown(): Promise<void>;
}

/** A worker that lived less than this before dying counts towards a crash loop. */
const QUICK_DEATH_MS = 5_000;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;
/** How long a worker may take to give its metrics or say it reloaded. */
const ANSWER_MS = 5_000;

interface Slot {
  readonly number: number;
  worker: Worker | null;
  /** It was sent its start: news can follow. */
  told: boolean;
  listening: boolean;
  startedAt: number;
  quickDeaths: number;
  restart: NodeJS.Timeout | null;
}

/**
 * `headroom proxy` with `workers` > 1: this process, the primary, runs
 * what must exist once — the sources, the admin listener, the ledger
 * (memory backend), signals — and forks the workers that serve the client
 * port (worker.ts). What its registry learns, and its origins' health,
 * reach every worker as messages; a worker that dies is forked again
 * (after a backoff when it keeps dying) and its reservations end at once.
 */
export async function startGroup(config: GatewayConfig, options: GroupOptions): Promise<Group> {
  const { logger } = options;
  const { startGateway } = await import('../gateway/gateway.js');
  const slots: Slot[] = Array.from({ length: options.workers }, (_, i) => ({ number: i + 1, worker: null, told: false, listening: false, startedAt: 0, quickDeaths: 0, restart: null }));
  const live = (): Slot[] => slots.filter((s) => s.worker !== null && s.listening);
  const post = (slot: Slot, message: ToWorker): void => {
    if (slot.told && slot.worker?.isConnected()) slot.worker.send(message);
  };
  const broadcast = (message: ToWorker): void => {
    for (const slot of slots) post(slot, message);
  };

  // What other workers wrote counts as long as a snapshot may be trusted (as a shared ledger's records do).
  const ledger = config.ledger.backend === 'memory' ? new LedgerHost(config.policy.staleAfter + config.ledger.leaseTime, (replies, held) => {
    for (const slot of slots) {
      const mine = slot.worker === null ? undefined : replies.get(String(slot.worker.id));
      if (mine !== undefined || held.length > 0) post(slot, { type: 'ledger', replies: mine ?? [], held });
    }
  }) : undefined;

  /** Answers workers give by id (metrics, reloads). */
  const waiting = new Map<number, (message: ToPrimary) => void>();
  let asked = 0;
  const askOf = <T extends ToPrimary>(slot: Slot, make: (id: number) => ToWorker): Promise<T | null> =>
    new Promise((resolve) => {
      const id = ++asked;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(null);
      }, ANSWER_MS);
      waiting.set(id, (message) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(message as T);
      });
      post(slot, make(id));
    });

  const gatherMetrics = async (own: string): Promise<string> => {
    const answers = await Promise.all(live().map(async (slot) => ({ worker: String(slot.number), reply: await askOf<Extract<ToPrimary, { type: 'metrics' }>>(slot, (id) => ({ type: 'metrics', id })) })));
    return mergeMetrics([{ worker: null, text: own }, ...answers.filter((a) => a.reply !== null).map((a) => ({ worker: a.worker, text: a.reply!.text }))]);
  };

  let reloading: Promise<ReloadResult> = Promise.resolve({ ok: true, generation: 1, changed: [] });
  const reloadOnce = async (): Promise<ReloadResult> => {
    const read = options.load();
    const result = await gateway.reload(read);
    if (!result.ok || !read.ok) return result;
    watchOrigins();
    current = read.config;
    // Every worker given its start, listening or not yet: one starting now was given the configuration before this one.
    const acks = await Promise.all(slots.filter((slot) => slot.told && slot.worker !== null).map((slot) => askOf<Extract<ToPrimary, { type: 'reloaded' }>>(slot, (id) => ({ type: 'reload', id, config: read.config }))));
    const failed = acks.filter((a) => a === null || !a.result.ok).length;
    if (failed > 0) logger.error({ msg: 'workers did not all reload', generation: result.generation, failed });
    else logger.info({ msg: 'workers reloaded', generation: result.generation, workers: acks.length });
    return result;
  };
  const reload = (): Promise<ReloadResult> => (reloading = reloading.then(reloadOnce, reloadOnce));

  const gateway: Gateway = await startGateway(config, { logger, part: 'primary', load: options.load, ledger, adminMetrics: gatherMetrics, adminReload: reload });
  /** The configuration workers are started with: the latest the group reloaded to. */
  let current = config;

  const volumeNews = (state: VolumeState): VolumeNews[] => {
    const news: VolumeNews[] = [];
    const of = (change: VolumeNews['change']): number => news.push({ origin: state.origin, volume: state.volume, change });
    if (state.snapshot) of({ kind: 'snapshot', snapshot: state.snapshot });
    if (state.lastError !== null) of({ kind: 'error', message: state.lastError });
    if (state.markedFullAt !== null) of({ kind: 'full', at: state.markedFullAt });
    return news;
  };
  gateway.registry.onChange = (state, change) => broadcast({ type: 'volume', origin: state.origin, volume: state.volume, change });

  const originNews = (origin: Origin): OriginNews => ({
    name: origin.name,
    healthy: origin.health?.healthy ?? null,
    lastHealthError: origin.health?.lastError ?? null,
    agentError: origin.agentStatus?.lastError ?? null,
    agentErrorAt: origin.agentStatus?.lastErrorAt ?? null,
  });
  /** The current origins' checks and polls tell every worker how they went. */
  const watchOrigins = (): void => {
    for (const origin of gateway.origins.values()) {
      const tell = (): void => broadcast({ type: 'origin', ...originNews(origin) });
      if (origin.health) origin.health.onChange = tell;
      if (origin.agentStatus) origin.agentStatus.onChange = tell;
    }
  };
  watchOrigins();

  cluster.setupPrimary({ serialization: 'advanced', stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let stopping = false;
  let port: number | null = null;
  let started: (() => void) | null = null;
  let failedToStart: ((err: Error) => void) | null = null;

  const fork = (slot: Slot): void => {
    slot.restart = null;
    const worker = cluster.fork({ HEADROOM_WORKER_SLOT: String(slot.number) });
    slot.worker = worker;
    slot.told = false;
    slot.listening = false;
    slot.startedAt = Date.now();
    relayLines(worker, options.log);
    worker.on('message', (message: ToPrimary) => onMessage(slot, worker, message));
    worker.once('exit', (code, signal) => died(slot, worker, code, signal));
    // A message sent as the worker exits fails (EPIPE) before its exit is seen: the exit is what counts.
    worker.on('error', (err) => logger.debug({ msg: 'a message to a worker failed', worker: slot.number, err: err.message }));
  };

  const onMessage = (slot: Slot, worker: Worker, message: ToPrimary): void => {
    switch (message.type) {
      case 'ledger':
        return ledger?.handle(String(worker.id), message.calls);
      case 'hello': {
        // A message sent before the worker listens for messages would be lost: it says when it does.
        const volumes = [...gateway.registry.all()].flatMap(volumeNews);
        worker.send({ type: 'start', slot: slot.number, config: current, volumes, origins: [...gateway.origins.values()].map(originNews) } satisfies ToWorker);
        slot.told = true;
        return;
      }
      case 'full':
        return void gateway.registry.get(message.origin, message.volume)?.markFull(message.at);
      case 'listening':
        // With port 0 the primary picks one the first time, and every worker gets the same.
        port ??= message.port;
        slot.listening = true;
        if (slots.every((s) => s.listening)) started?.();
        return;
      case 'reloaded':
      case 'metrics':
        return waiting.get(message.id)?.(message);
    }
  };

  const died = (slot: Slot, worker: Worker, code: number | null, signal: string | null): void => {
    if (slot.worker === worker) slot.worker = null;
    const wasListening = slot.listening;
    slot.listening = false;
    ledger?.releaseOwner(String(worker.id));
    if (stopping) return;
    if (!wasListening && started !== null) {
      failedToStart?.(new Error(`worker ${slot.number} exited (${signal ?? code}) before it listened; see its log lines`));
      return;
    }
    const lived = Date.now() - slot.startedAt;
    slot.quickDeaths = lived < QUICK_DEATH_MS ? slot.quickDeaths + 1 : 0;
    const backoff = slot.quickDeaths === 0 ? 0 : Math.min(FIRST_BACKOFF_MS * 2 ** (slot.quickDeaths - 1), MAX_BACKOFF_MS);
    logger.warn({ msg: 'worker died; starting another', worker: slot.number, pid: worker.process.pid, code, signal, restartInMs: backoff });
    slot.restart = setTimeout(() => fork(slot), backoff);
  };

  try {
    await new Promise<void>((resolve, reject) => {
      started = resolve;
      failedToStart = reject;
      slots.forEach(fork);
    });
  } catch (err) {
    await stopWorkers(slots, () => (stopping = true), 0);
    await gateway.shutdown();
    throw err;
  } finally {
    started = null;
    failedToStart = null;
  }
  const admin = gateway.adminAddress;
  logger.info({ msg: 'gateway listening', host: config.listen.host, port: port!, admin: `${admin.address}:${admin.port}`, origins: config.origins.map((o) => o.name), generation: 1, workers: slots.length });

  let stoppingAll: Promise<void> | null = null;
  return {
    reload,
    shutdown: () =>
      (stoppingAll ??= (async () => {
        await reloading;
        await stopWorkers(slots, () => (stopping = true), current.listen.drainTimeout);
        await gateway.shutdown();
      })()),
  };
}

/** Asks every worker to drain and waits for them to exit; past `drainTimeout` and a grace second, kills those left. */
async function stopWorkers(slots: readonly Slot[], markStopping: () => void, drainTimeout: number): Promise<void> {
  markStopping();
  const exits = slots.map((slot) => {
    if (slot.restart) clearTimeout(slot.restart);
    const worker = slot.worker;
    if (!worker || worker.isDead()) return Promise.resolve();
    const closed = new Promise<void>((resolve) => worker.process.once('close', () => resolve()));
    if (worker.isConnected()) worker.send({ type: 'stop' } satisfies ToWorker);
    else worker.kill('SIGKILL');
    return closed;
  });
  const deadline = setTimeout(() => {
    for (const slot of slots) if (slot.worker && !slot.worker.isDead()) slot.worker.process.kill('SIGKILL');
  }, drainTimeout + 1_000);
  await Promise.all(exits);
  clearTimeout(deadline);
}

/** A worker's log lines go out through the primary's log, whole lines at a time, so that no two processes' lines interleave. */
function relayLines(worker: Worker, log: { write(text: string): unknown }): void {
  let partial = '';
  worker.process.stdout?.setEncoding('utf8');
  worker.process.stdout?.on('data', (text: string) => {
    const end = text.lastIndexOf('\n');
    if (end < 0) return void (partial += text);
    log.write(partial + text.slice(0, end + 1));
    partial = text.slice(end + 1);
  });
}
