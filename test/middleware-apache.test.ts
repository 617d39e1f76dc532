import t, { type Test } from 'tap';
import http from 'node:http';
import { chunkedPut } from './helpers/upload.js';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createGuard, createLogger, loadGatewayConfig } from '../src/index.js';
import { nodeGateway, type NodeGateway, type NodeGatewayKind } from './helpers/node-gateways.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { countingRelay, type CountingRelay } from './helpers/tcp-relay.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';
import { request, until } from './helpers/http.js';

// An Express app with http-proxy-middleware and a Fastify app with
// @fastify/http-proxy, each with Headroom's middleware, in front of Apache
// (mod_dav) on a real 16 MiB tmpfs, through a relay that counts every byte
// the app's proxy sends toward Apache.

const KiB = 1024;
const MiB = 1024 * KiB;
/** Request heads and chunk framing on the wire, beyond the bodies' bytes. */
const FRAMING = 16 * KiB;

type Guard = Awaited<ReturnType<typeof createGuard>>;

interface Stack {
  readonly volume: string;
  readonly relay: CountingRelay;
  readonly guard: Guard;
  readonly app: NodeGateway;
}

async function stack(t: Test, kind: NodeGatewayKind, policy: Record<string, unknown> = {}): Promise<Stack> {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  const relay = await countingRelay(apache.port);
  t.teardown(() => relay.close());
  const loaded = loadGatewayConfig({
    file: null,
    env: {},
    values: {
      admin: { host: '127.0.0.1', port: 0 },
      origins: [{ name: 'dav', url: relay.url, headroom: { local: { paths: [volume], interval: '100ms' } } }],
      routes: [{ match: { pathPrefix: '/dav' }, origin: 'dav' }],
      policy: { reserve: '1MiB', ...policy },
      log: { level: 'warn' },
    },
  });
  if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
  const guard = await createGuard(loaded.config, { logger: createLogger('warn') });
  t.teardown(() => guard.shutdown());
  await until(() => guard.registry.get('dav', volume)?.snapshot != null, 'the first snapshot');
  const app = await nodeGateway(kind, t, guard, relay.url);
  return { volume, relay, guard, app };
}

/** Waits for a snapshot of the volume measured after now. */
async function freshSnapshot(guard: Guard, volume: string): Promise<void> {
  const after = Date.now();
  await until(() => (guard.registry.get('dav', volume)?.snapshot?.takenAt ?? 0) > after, 'a fresh snapshot');
}

const put = (app: NodeGateway, name: string, bytes: number) =>
  request(`${app.url}/${name}`, { method: 'PUT', headers: { 'content-length': String(bytes) } }, Buffer.alloc(bytes, 1));

for (const kind of ['express', 'fastify'] as NodeGatewayKind[]) {
  withTmpfs(t, `${kind}: a PUT that does not fit gets Headroom's 507 and Apache counts 0 bytes; one that fits is stored`, async (t) => {
    const { volume, relay, guard, app } = await stack(t, kind);
    writeFileSync(path.join(volume, 'stored.bin'), Buffer.alloc(10 * MiB));
    await freshSnapshot(guard, volume);
    const relayedBefore = relay.bytesToTarget();

    const refused = await put(app, 'eight.bin', 8 * MiB);
    t.equal(refused.status, 507);
    t.equal(refused.headers['content-type'], 'application/problem+json');
    t.equal(refused.headers['retry-after'], '60');
    t.match(JSON.parse(refused.body.toString()), { error: 'insufficient_storage', requested: 8 * MiB, origin: 'dav', volume, suggested_action: String });
    t.equal(relay.bytesToTarget(), relayedBefore, 'Apache received 0 bytes');
    t.equal(relay.connections(), 0, 'the app’s proxy did not even connect');

    const html = await request(`${app.url}/eight.bin`, { method: 'PUT', headers: { 'content-length': String(8 * MiB), accept: 'text/html' } }, Buffer.alloc(8 * MiB));
    t.equal(html.status, 507);
    t.match(html.headers['content-type'], /^text\/html/, 'the HTML answer for a browser, as the gateway gives it');

    const fits = await put(app, 'four.bin', 4 * MiB);
    t.equal(fits.status, 201, 'a write that fits is stored by Apache');
    t.equal(statSync(path.join(volume, 'four.bin')).size, 4 * MiB);
    t.ok(relay.bytesToTarget() - relayedBefore >= 4 * MiB);
    await until(() => guard.ledger.totalReservedBytes() === 0, 'the ledger to return to 0');
    const decisions = (await guard.metricsText()).split('\n').filter((line) => line.startsWith('headroom_decisions_total'));
    t.same(decisions.sort(), [
      'headroom_decisions_total{decision="admit",reason="fits",origin="dav"} 1',
      'headroom_decisions_total{decision="reject",reason="insufficient_storage",origin="dav"} 2',
    ], 'the decisions show in the guard’s metrics as the gateway’s do');
  });

  withTmpfs(t, `${kind}: a chunked PUT that outgrows the room is cut: Apache keeps no file, the bytes stop, the ledger returns to 0`, async (t) => {
    const { volume, relay, guard, app } = await stack(t, kind, { unknownLength: '2MiB' });
    writeFileSync(path.join(volume, 'stored.bin'), Buffer.alloc(10 * MiB));
    await freshSnapshot(guard, volume);
    const relayedBefore = relay.bytesToTarget();
    const answer = await chunkedPut(`${app.url}/grows.bin`, 24 * MiB);
    t.equal(answer.status, 507, 'the client reads the 507: no response had started, and the cut’s answer lingers while it still sends');
    t.match(JSON.parse(answer.body), { error: 'insufficient_storage', requested: null });
    await until(() => relay.open() === 0, 'the proxy’s connection to Apache to close mid-body');
    const relayed = relay.bytesToTarget() - relayedBefore;
    t.ok(relayed < 5 * MiB + FRAMING, `the bytes stopped before the room ran out (${relayed} relayed toward Apache, about 5 MiB were free)`);
    await until(() => !readdirSync(volume).some((n) => n !== 'stored.bin'), 'Apache to drop its partial upload');
    t.same(readdirSync(volume), ['stored.bin'], 'Apache kept no file of the cut upload (not even a temp file)');
    await until(() => guard.ledger.totalReservedBytes() === 0, 'the ledger to return to 0');
  });

  withTmpfs(t, `${kind}: an upload the client abandons midway: the proxy's connection to Apache closes, no file is kept, the ledger returns to 0`, async (t) => {
    const { volume, relay, guard, app } = await stack(t, kind);
    for (const framing of [{ 'content-length': String(4 * MiB) }, { 'transfer-encoding': 'chunked' }]) {
      const req = http.request(`${app.url}/abandoned.bin`, { method: 'PUT', agent: false, headers: framing });
      req.on('error', () => undefined);
      req.write(Buffer.alloc(512 * KiB, 4));
      await until(() => relay.bytesToTarget() >= 256 * KiB && guard.ledger.totalReservedBytes() > 0, 'the upload to be on its way to Apache');
      req.destroy();
      await until(() => relay.open() === 0, `the proxy's connection to Apache to close (${Object.keys(framing)[0]})`);
      await until(() => guard.ledger.totalReservedBytes() === 0, 'the ledger to return to 0');
      await until(() => readdirSync(volume).length === 0, 'Apache to drop the partial upload');
    }
    t.same(readdirSync(volume), [], 'Apache kept no file');
  });
}
