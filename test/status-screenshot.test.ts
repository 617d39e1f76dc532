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
  // A second volume that does not grow: the page says it never reaches flood stage.
  const archive = await startTestOrigin();
  t.teardown(() => archive.close());
  writeFileSync(path.join(archive.root, 'kept.bin'), Buffer.alloc(40 * MiB));
  const gateway = await gatewayFor(t, origin.url, {
    origins: [
      { name: 'files', url: origin.url, headroom: { local: { paths: [origin.root], capacity: '32MiB', interval: '200ms' }, health: { path: '/', interval: '200ms' } } },
      { name: 'archive', url: archive.url, headroom: { local: { paths: [archive.root], capacity: '64MiB', interval: '200ms' } } },
    ],
    routes: [{ match: { pathPrefix: '/archive/' }, origin: 'archive' }, { match: { pathPrefix: '/' }, origin: 'files' }],
    policy: { reserve: '2MiB', floodStage: '90%', floodRelease: '80%' },
    log: { level: 'silent' },
  });
  const admin = `http://127.0.0.1:${gateway.adminAddress.port}`;
  await until(async () => (await request(`${admin}/readyz`)).status === 200, 'the gateway to be ready');
  // A writer filling `files` a MiB at a time, each step seen by two snapshots: a history with a slope.
  const used = (): number => (gateway.registry.get('files', origin.root)?.snapshot?.totalBytes ?? 0) - (gateway.registry.get('files', origin.root)?.snapshot?.availableBytes ?? 0);
  for (let k = 1; k <= 6; k++) {
    t.equal((await request(`${gateway.url}/step-${k}.bin`, { method: 'PUT', headers: { 'content-length': String(MiB) } }, Buffer.alloc(MiB))).status, 201);
    await until(() => used() >= (20 + k) * MiB, `a snapshot showing step ${k}`);
    const seen = gateway.registry.get('files', origin.root)!.snapshot!.takenAt;
    await until(() => gateway.registry.get('files', origin.root)!.snapshot!.takenAt > seen, 'one more snapshot');
  }
  const page = (await request(`${admin}/`)).body.toString();
  t.equal(page.match(/<svg class="history"/g)?.length, 2, 'a history graph for each volume');
  t.match(page, /flood stage in <b>about \d+ (second|minute|hour)s?<\/b>/, 'files: its time to flood stage in words');
  t.match(page, /flood stage: never at this rate/, 'archive: never');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-shot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'status-page.png');
  await run(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${path.join(dir, 'profile')}`,
    '--hide-scrollbars', '--window-size=1000,640', `--screenshot=${file}`, `http://127.0.0.1:${gateway.adminAddress.port}/`,
  ], { timeout: 60_000 });
  const png = readFileSync(file);
  t.same(png.subarray(0, 8), PNG, 'a PNG came out');
  t.ok(png.length > 10_000, `of ${png.length} bytes: the page rendered, not a blank`);
  if (process.env.HEADROOM_UPDATE_SCREENSHOT === '1') copyFileSync(file, path.resolve(import.meta.dirname, '../docs/status-page.png'));
});
