import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gatewayFor } from './helpers/gateway.js';
import { request, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const MiB = 1024 * 1024;
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// HEADROOM_UPDATE_SCREENSHOT=1 also copies the picture to docs/status-page.png (the README shows it).
t.test('headless Chromium renders the status page', { skip: !existsSync(CHROMIUM) && process.env.CI !== 'true' ? 'chromium is not installed (apt-get install -y chromium; .ci/run does)' : false }, async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  writeFileSync(path.join(origin.root, 'stored.bin'), Buffer.alloc(20 * MiB));
  const gateway = await gatewayFor(t, origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [origin.root], capacity: '32MiB', interval: '200ms' }, health: { path: '/', interval: '200ms' } } }],
    policy: { reserve: '2MiB', floodStage: '90%', floodRelease: '80%' },
  });
  await until(async () => (await request(`http://127.0.0.1:${gateway.adminAddress.port}/readyz`)).status === 200, 'the gateway to be ready');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-shot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'status-page.png');
  await run(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${path.join(dir, 'profile')}`,
    '--hide-scrollbars', '--window-size=1000,520', `--screenshot=${file}`, `http://127.0.0.1:${gateway.adminAddress.port}/`,
  ], { timeout: 60_000 });
  const png = readFileSync(file);
  t.same(png.subarray(0, 8), PNG, 'a PNG came out');
  t.ok(png.length > 10_000, `of ${png.length} bytes: the page rendered, not a blank`);
  if (process.env.HEADROOM_UPDATE_SCREENSHOT === '1') copyFileSync(file, path.resolve(import.meta.dirname, '../docs/status-page.png'));
});
