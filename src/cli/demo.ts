import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadGatewayConfig } from '../config/load.js';
import { startSampleOrigin } from '../demo/sample-origin.js';
import { startGateway } from '../gateway/gateway.js';
import { createLogger, flushLog } from '../log/log.js';

const MiB = 1024 * 1024;

/**
 * `headroom demo`: a sample file store on loopback whose directory has a
 * fixed allocation of 48 MiB, 30 MiB of it already used, behind the gateway.
 * A 1 MiB upload fits; a 20 MiB one does not (about 15 MiB are usable).
 * `args` are config flags (`--listen.port 8081`). Its files live in a temp
 * directory that is removed when it stops, or fails to start.
 */
export async function runDemo(args: readonly string[]): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'headroom-demo-'));
  const removeFiles = (): Promise<void> => rm(root, { recursive: true, force: true });
  try {
    await startDemo(root, args, removeFiles);
  } catch (err) {
    await removeFiles();
    throw err;
  }
}

async function startDemo(root: string, args: readonly string[], removeFiles: () => Promise<void>): Promise<void> {
  const store = path.join(root, 'store');
  const uploads = path.join(root, 'to-upload');
  await mkdir(store);
  await mkdir(uploads);
  await writeFile(path.join(store, 'already-there.bin'), Buffer.alloc(30 * MiB));
  await writeFile(path.join(uploads, 'small.bin'), Buffer.alloc(1 * MiB, 1));
  await writeFile(path.join(uploads, 'big.bin'), Buffer.alloc(20 * MiB, 2));

  const origin = await startSampleOrigin(store, 0);
  const result = loadGatewayConfig({
    file: null,
    env: process.env,
    args,
    values: {
      listen: { host: '127.0.0.1', port: 8080 },
      admin: { host: '127.0.0.1', port: 0 },
      origins: [{ name: 'demo', url: origin.url, headroom: { local: { paths: [store], capacity: '48MiB', interval: '500ms' } } }],
      routes: [{ match: { pathPrefix: '/' }, origin: 'demo' }],
      policy: { reserve: '5%' },
    },
  });
  if (!result.ok) {
    await origin.close();
    throw new Error(`the demo's configuration is invalid:\n${result.problems.join('\n')}`);
  }
  const logger = createLogger(result.config.log.level);
  const gateway = await startGateway(result.config, { logger }).catch(async (err: NodeJS.ErrnoException) => {
    await origin.close();
    if (err.code !== 'EADDRINUSE') throw err;
    throw new Error(`${err.message}: that port is taken; pick another with --listen.port N (and --admin.port M)`);
  });
  const base = `http://127.0.0.1:${gateway.address.port}`;
  process.stderr.write(`
Headroom demo
  gateway   ${base}/   guards the sample origin below
  origin    ${origin.url}/   stores files in ${store}
  status    http://127.0.0.1:${gateway.adminAddress.port}/   (a page; /status is the same as JSON)
            (a 48 MiB allocation, 30 MiB used, 5% kept in reserve)

An upload that fits (201):
  curl -sS -o /dev/null -w '%{http_code}\\n' -T ${path.join(uploads, 'small.bin')} ${base}/small.bin

An upload that does not (507, and no byte of it reaches the origin):
  curl -sS -w '\\n%{http_code}\\n' -T ${path.join(uploads, 'big.bin')} ${base}/big.bin

Stop with Ctrl-C.
`);
  const stop = (): void => {
    process.stderr.write('\nStopping the demo; its files go with it.\n');
    void gateway
      .shutdown()
      .then(() => origin.close())
      .then(removeFiles)
      .then(() => flushLog(logger))
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
