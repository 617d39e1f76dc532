import type { ConfigResult } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log/log.js';
import { startGateway, type Gateway } from './gateway.js';

/** A gateway without a client listener, for a Node proxy that moves the bytes itself (docs/middleware.md). */
export type Guard = Pick<Gateway, 'check' | 'adminAddress' | 'registry' | 'ledger' | 'generation' | 'reload' | 'metricsText' | 'shutdown'>;

export interface GuardOptions {
  readonly logger: Logger;
  /** Reads the configuration again, for `reload()`. */
  readonly load?: () => ConfigResult;
}

/**
 * Starts what a gateway runs — sources, ledger, admin listener, plugins,
 * constraints — without its client listener: the embedding proxy asks
 * `check` about each request and moves the bytes. `listen` is not used.
 */
export async function createGuard(config: GatewayConfig, options: GuardOptions): Promise<Guard> {
  const gateway = await startGateway(config, { logger: options.logger, part: 'guard', ...(options.load ? { load: options.load } : {}) });
  return {
    check: gateway.check,
    get adminAddress() {
      return gateway.adminAddress;
    },
    registry: gateway.registry,
    ledger: gateway.ledger,
    get generation() {
      return gateway.generation;
    },
    reload: gateway.reload,
    metricsText: gateway.metricsText,
    shutdown: gateway.shutdown,
  };
}
