import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log/log.js';
import type { Ledger } from './ledger.js';
import { MemoryLedger } from './memory-ledger.js';

const STARTUP_WAIT_MS = 1000;

/**
 * The ledger `ledger.backend` names. Redis' client is loaded only when it
 * is used. `keepMs` is how long what other replicas wrote must count:
 * longer than any snapshot the gateway trusts.
 */
export async function openLedger(config: GatewayConfig['ledger'], keepMs: () => number, logger: Logger): Promise<Ledger> {
  if (config.backend === 'memory') return new MemoryLedger();
  const { RedisLedger } = await import('./redis-ledger.js');
  const ledger = new RedisLedger({
    url: config.url === '' ? 'redis://127.0.0.1:6379' : config.url,
    sentinel: config.sentinel,
    leaseTimeMs: config.leaseTime,
    timeoutMs: config.timeout,
    onUnavailable: config.onUnavailable,
    keepMs,
    logger,
  });
  // A moment for the first connection, never the whole timeout: a gateway whose Redis is down starts and judges by onUnavailable.
  if (!(await ledger.connected(STARTUP_WAIT_MS))) {
    logger.warn({ msg: `ledger: Redis does not answer yet (${ledger.describe().lastError}); writes are ${config.onUnavailable === 'local' ? 'judged by this gateway alone' : 'refused with 503'} until it does` });
  }
  return ledger;
}
