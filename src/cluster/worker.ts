import cluster from 'node:cluster';
import { once } from 'node:events';
import type { Gateway } from '../gateway/gateway.js';
import { HeadroomRegistry } from '../headroom/registry.js';
import { batchedStdout, createLogger, flushLog } from '../log/log.js';
import { LedgerClient } from './ledger-client.js';
import type { OriginNews, ToPrimary, ToWorker, VolumeNews } from './messages.js';

const send = (message: ToPrimary): boolean => process.send!(message);

/**
 * A worker of a group (`workers` > 1): the request path on the shared
 * client port, with no source and no admin listener. Its configuration,
 * its registry's snapshots and its origins' health come from the primary;
 * its reservations are the primary's ledger's (with the memory backend).
 * The primary decides when it reloads and stops: signals are its alone.
 */
export async function runWorker(): Promise<void> {
  // A terminal's ^C or hangup, or a service manager's SIGTERM, reaches the
  // whole process group: the primary drains and reloads the group.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
  const first = once(process, 'message');
  send({ type: 'hello' });
  const [start] = (await first) as [ToWorker];
  if (start.type !== 'start') throw new Error(`a worker's first message must be "start", got "${start.type}"`);
  const { config, slot } = start;
  const { startGateway } = await import('../gateway/gateway.js');
  const out = batchedStdout();
  const logger = createLogger(config.log.level, out).child({ worker: slot });

  const registry = new HeadroomRegistry(config.policy, { fed: true });
  /** While the primary's news is applied: what it marks is not sent back. */
  let feeding = false;
  const learn = ({ origin, volume, change }: VolumeNews): void => {
    const state = registry.volume(origin, volume);
    feeding = true;
    try {
      if (change.kind === 'snapshot') state.record(change.snapshot, state.markAt(change.snapshot.takenAt));
      else if (change.kind === 'error') state.recordError(change.message);
      else state.markFull(change.at);
    } finally {
      feeding = false;
    }
  };
  start.volumes.forEach(learn);
  registry.onChange = (state, change) => {
    if (!feeding && change.kind === 'full') send({ type: 'full', origin: state.origin, volume: state.volume, at: change.at });
  };

  const origins = new Map<string, OriginNews>(start.origins.map((o) => [o.name, o]));
  let gateway: Gateway | null = null;
  const adopt = (): void => {
    for (const news of origins.values()) {
      const origin = gateway?.origins.get(news.name);
      origin?.health?.adopt(news.healthy, news.lastHealthError);
      if (origin?.agentStatus) {
        origin.agentStatus.lastError = news.agentError;
        origin.agentStatus.lastErrorAt = news.agentErrorAt;
      }
    }
  };

  // process.send's false says its backlog is long, not that the message was dropped: the ledger's calls
  // fail only when the channel is closed (and answers still due fail when it closes).
  const ledger = config.ledger.backend === 'memory' ? new LedgerClient(String(cluster.worker!.id), (message) => process.connected && (send(message), true)) : undefined;
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const running = await ready;
      await running.shutdown();
      await ledger?.close();
      await flushLog(logger);
      process.exit(0);
    })());

  process.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'volume':
        return learn(message);
      case 'origin':
        origins.set(message.name, message);
        return adopt();
      case 'ledger':
        return ledger?.received(message.replies, message.held);
      case 'reload':
        return void ready
          .then((running) => running.reload({ ok: true, config: message.config }))
          .then((result) => {
            adopt();
            send({ type: 'reloaded', id: message.id, result });
          });
      case 'metrics':
        return void ready.then((running) => running.metricsText()).then((text) => send({ type: 'metrics', id: message.id, text }));
      case 'stop':
        return void stop();
      case 'start':
        return;
    }
  });
  // The primary is gone (killed): nothing feeds this worker any more, and
  // its listener is the primary's, so it takes no connection. Its log went
  // through the primary too, and the logger's flush at exit retries a
  // write to the closed pipe for ever: so the worker goes at once, without
  // exit hooks — when the channel closes (before Node's own handler, which
  // exits) or when a log write finds the pipe closed, whichever comes first.
  const gone = (): void => void process.kill(process.pid, 'SIGKILL');
  process.prependListener('disconnect', gone);
  (out as unknown as NodeJS.EventEmitter).on('error', gone);

  const ready = startGateway(config, { logger, part: 'worker', registry, ledger });
  gateway = await ready;
  adopt();
  send({ type: 'listening', host: gateway.address.address, port: gateway.address.port });
}
