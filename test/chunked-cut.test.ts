import t from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gatewayFor } from './helpers/gateway.js';
import { request, until } from './helpers/http.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { countingRelay } from './helpers/tcp-relay.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// A chunked upload past the room is cut before the volume's usable room is
// exceeded, whenever the snapshots fall: bytes still in socket buffers or
// Apache's memory when a measurement starts are not on its disk yet.

const KiB = 1024;
const MiB = 1024 * KiB;
const RUNS = 50;
const USABLE = 15 * MiB; // a 16 MiB tmpfs less a 1 MiB reserve
/** Request heads and chunk framing on the wire, beyond the body's bytes. */
const FRAMING = 16 * KiB;

/** A chunked PUT of `total` bytes in 64 KiB chunks, as fast as the gateway takes them. */
function chunkedPut(url: string, total: number, agent: http.Agent): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'PUT', agent, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    void (async () => {
      for (let sent = 0; sent < total && !req.destroyed; sent += 64 * KiB) {
        if (!req.write(Buffer.alloc(64 * KiB, 9))) await once(req, 'drain');
      }
      req.end();
    })().catch(() => undefined);
  });
}

withTmpfs(t, `${RUNS} runs: a chunked upload past the room never puts more than the usable room on Apache`, async (t) => {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  // Snapshots every 20 ms fall in the middle of most uploads.
  const interval = '20ms';
  const relays: Array<Awaited<ReturnType<typeof countingRelay>>> = [];
  t.teardown(() => Promise.all(relays.map((r) => r.close())));
  let most = 0;
  const statuses = new Map<string, number>();
  for (let run = 0; run < RUNS; run++) {
    const relay = await countingRelay(apache.port);
    relays.push(relay);
    const gateway = await gatewayFor(t, relay.url, {
      origins: [{ name: 'dav', url: relay.url, headroom: { local: { paths: [volume], interval } } }],
      routes: [{ origin: 'dav' }],
      policy: { reserve: '1MiB' },
      log: { level: 'warn' },
    });
    await until(() => gateway.registry.get('dav', volume)?.snapshot != null, 'the first snapshot');
    // Every other run from a client that sends `Connection: close`: it too reads the 507 of its cut upload.
    const agent = new http.Agent({ keepAlive: run % 2 === 0 });
    const status = await chunkedPut(`${gateway.url}/run-${run}.bin`, 24 * MiB, agent);
    agent.destroy();
    statuses.set(String(status), (statuses.get(String(status)) ?? 0) + 1);
    await until(() => relay.open() === 0, 'the cut upload’s connection to close at the relay');
    const relayed = relay.bytesToTarget();
    most = Math.max(most, relayed);
    if (relayed > USABLE + FRAMING) t.fail(`run ${run}: ${relayed} bytes reached Apache, more than the ${USABLE} usable`);
    await until(() => readdirSync(volume).length === 0, 'Apache to drop the partial upload');
    await gateway.shutdown();
    await relay.close();
  }
  t.comment(`answers: ${[...statuses].map(([s, n]) => `${s} ×${n}`).join(', ')}; most relayed ${(most / MiB).toFixed(2)} MiB of ${USABLE / MiB} MiB usable`);
  t.ok(most <= USABLE + FRAMING, `at most ${most} bytes reached Apache in any run`);
  t.equal(statuses.get('507'), RUNS, 'every run was answered 507, keep-alive and Connection: close alike');
});

t.test('an idle chunked upload holds at most maxUploadShare of the usable room; other writes still fit', async (t) => {
  const origin = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(201, { 'content-length': '0' }).end());
  });
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  t.teardown(() => {
    origin.closeAllConnections();
    origin.close();
  });
  const url = `http://127.0.0.1:${(origin.address() as import('node:net').AddressInfo).port}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-idle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = await gatewayFor(t, url, {
    origins: [{ name: 'files', url, headroom: { local: { paths: [dir], capacity: '16MiB', interval: '50ms' } } }],
    policy: { reserve: '0', unknownLength: '64MiB', maxUploadShare: '25%' },
  });
  await until(() => gateway.registry.get('files', dir)?.snapshot != null, 'the first snapshot');

  // A slow upload: one byte, then nothing.
  const slow = http.request(`${gateway.url}/slow.bin`, { method: 'PUT', headers: { 'transfer-encoding': 'chunked' } });
  slow.on('error', () => undefined);
  slow.write('x');
  t.teardown(() => slow.destroy());
  await until(() => gateway.ledger.totalReservedBytes() > 0, 'the slow upload to be admitted');
  const held = gateway.ledger.totalReservedBytes();
  t.ok(held <= 4 * MiB, `the idle upload holds ${held} bytes, at most 25% of 16 MiB`);

  const second = await request(`${gateway.url}/twelve.bin`, { method: 'PUT', headers: { 'content-length': String(11 * MiB) } }, Buffer.alloc(11 * MiB));
  t.equal(second.status, 201, 'an 11 MiB upload still fits beside it');
});
