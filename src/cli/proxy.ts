import type { GatewayConfig } from '../config/types.js';
import { startGateway } from '../gateway/gateway.js';
import { createLogger, flushLog } from '../log.js';

/** `headroom proxy`: the gateway until SIGTERM or SIGINT, then a drain and exit 0. */
export async function runProxy(config: GatewayConfig): Promise<void> {
  const logger = createLogger(config.log.level);
  const gateway = await startGateway(config, { logger });
  const stop = (signal: NodeJS.Signals): void => {
    logger.info({ msg: 'draining', signal, drainTimeoutMs: config.listen.drainTimeout });
    void gateway
      .shutdown()
      .then(() => logger.info({ msg: 'stopped' }))
      .then(() => flushLog(logger))
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
