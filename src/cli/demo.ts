import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadGatewayConfig } from '../config/load.js';
import { startSampleOrigin } from '../demo/sample-origin.js';
import { startGateway } from '../gateway/gateway.js';
import { createLogger, flushLog } from '../log.js';

/** `headroom demo`: a sample file store on loopback, guarded by the gateway. */
export async function runDemo(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'headroom-demo-'));
  const origin = await startSampleOrigin(root, 0);
  const result = loadGatewayConfig({
    file: null,
    env: process.env,
    args: [
      '--listen.host', '127.0.0.1',
      '--listen.port', process.env.HEADROOM_LISTEN_PORT ?? '8080',
      '--origins', JSON.stringify([{ name: 'demo', url: origin.url, headroom: { local: { paths: [root], capacity: '32MiB' } } }]),
      '--routes', JSON.stringify([{ match: { pathPrefix: '/' }, origin: 'demo' }]),
    ],
  });
  if (!result.ok) throw new Error(`the demo's configuration is invalid:\n${result.problems.join('\n')}`);
  const logger = createLogger(result.config.log.level);
  const gateway = await startGateway(result.config, { logger });
  const base = `http://127.0.0.1:${gateway.address.port}`;
  process.stderr.write(`
Headroom demo
  gateway   ${base}/   (guards the sample origin below)
  origin    ${origin.url}/   storing files in ${root}

Try:
  curl -sS -i -T package.json ${base}/package.json
  curl -sS -i ${base}/package.json
  curl -sS -i -H 'Via: 1.1 headroom-1' ${base}/loop      # 508: a request that already passed this gateway

Stop with Ctrl-C.
`);
  const stop = (): void => {
    void gateway
      .shutdown()
      .then(() => origin.close())
      .then(() => flushLog(logger))
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
