import type { AgentConfig } from '../config/agent-config.js';
import type { ConfigResult } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import cluster from 'node:cluster';
import os from 'node:os';
import { batchedStdout, createLogger, flushLog, type Logger } from '../log/log.js';
import { agentWarnings, gatewayWarnings } from '../config/warnings.js';

// Each command loads only its own modules: a gateway process does not carry
// the agent's volume listing in memory, nor an agent the proxy's.

/** Until SIGTERM or SIGINT; then `stop`, a flushed log, and exit 0. */
function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ msg: 'stopping', signal });
    void stop()
      .then(() => logger.info({ msg: 'stopped' }))
      .then(() => flushLog(logger))
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

/**
 * `headroom proxy`: the gateway. SIGHUP reloads the configuration, read by
 * `load` as at start (docs/reload.md); SIGTERM or SIGINT drains in-flight
 * exchanges first, then exits.
 */
export async function runProxy(config: GatewayConfig, load: () => ConfigResult): Promise<void> {
  const workers = config.workers === 'auto' ? os.availableParallelism() : config.workers;
  if (workers > 1) return runGroup(config, load, workers);
  const { startGateway } = await import('../gateway/gateway.js');
  const logger = createLogger(config.log.level);
  warn(logger, gatewayWarnings(config));
  const gateway = await startGateway(config, { logger, load });
  process.on('SIGHUP', () => {
    logger.info({ msg: 'reloading', signal: 'SIGHUP' });
    void gateway.reload();
  });
  stopOnSignals(logger, () => gateway.shutdown());
}

/**
 * `headroom proxy` with `workers` > 1 (docs/workers.md): this process is
 * the group's primary; the signals reach the whole group through it.
 */
async function runGroup(config: GatewayConfig, load: () => ConfigResult, workers: number): Promise<void> {
  const { startGroup } = await import('../cluster/primary.js');
  const log = batchedStdout();
  const logger = createLogger(config.log.level, log);
  warn(logger, gatewayWarnings(config));
  const group = await startGroup(config, { logger, load, workers, log });
  process.on('SIGHUP', () => {
    logger.info({ msg: 'reloading', signal: 'SIGHUP' });
    void group.reload();
  });
  stopOnSignals(logger, () => group.shutdown());
}

/** True in a worker process of a group: it takes its configuration from the primary, not from the file. */
export function isGroupWorker(): boolean {
  return cluster.isWorker;
}

/** A worker of `headroom proxy`'s group. */
export async function runProxyWorker(): Promise<void> {
  const { runWorker } = await import('../cluster/worker.js');
  await runWorker();
}

/** `headroom agent`: reports this host's volumes. */
export async function runAgent(config: AgentConfig): Promise<void> {
  const { startAgent } = await import('../agent/agent-server.js');
  const logger = createLogger(config.log.level);
  // An open agent without a token is warned about once it listens, on the address it bound.
  warn(logger, agentWarnings(config, { open: false }));
  const agent = await startAgent(config, logger);
  stopOnSignals(logger, () => agent.close());
}

/** What check-config warns about, said once at start as well (docs/configuration.md#warnings). */
function warn(logger: Logger, warnings: readonly string[]): void {
  for (const warning of warnings) logger.warn({ msg: warning, key: warning.slice(0, warning.indexOf(':')) });
}
