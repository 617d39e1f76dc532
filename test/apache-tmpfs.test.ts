import t, { type Test } from 'tap';
import { statfsSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { rawExchange, request, statusOf, until } from './helpers/http.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { countingRelay, type CountingRelay } from './helpers/tcp-relay.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// A real origin (Apache mod_dav) on a real 16 MiB tmpfs that really fills,
// behind the gateway in the sidecar shape (the gateway measures the mount).

const MiB = 1024 * 1024;

interface Stack {
  readonly volume: string;
  readonly relay: CountingRelay;
  readonly gateway: RunningGateway;
}

async function stack(t: Test, mountOptions: string, values: Record<string, unknown> = {}, interval = '100ms'): Promise<Stack> {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const volume = mountTmpfs(t, `${mountOptions},uid=33,gid=33`);
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  const relay = await countingRelay(apache.port);
  t.teardown(() => relay.close());
  const gateway = await gatewayFor(t, relay.url, {
    origins: [{ name: 'dav', url: relay.url, headroom: { local: { paths: [volume], interval } } }],
    routes: [{ origin: 'dav' }],
    ...values,
    policy: { reserve: '1MiB', ...(values.policy as object) },
  });
  await until(() => gateway.registry.get('dav', volume)?.snapshot != null, 'the first snapshot');
  return { volume, relay, gateway };
}

/** Waits for a snapshot of the volume measured after now. */
async function freshSnapshot(gateway: RunningGateway, volume: string): Promise<void> {
  const after = Date.now();
  await until(() => (gateway.registry.get('dav', volume)?.snapshot?.takenAt ?? 0) > after, 'a fresh snapshot');
}

const usedBytes = (dir: string): number => {
  const s = statfsSync(dir);
  return (s.blocks - s.bavail) * s.bsize;
};

const put = (gateway: RunningGateway, name: string, bytes: number, headers: Record<string, string> = {}) =>
  request(`${gateway.url}/${name}`, { method: 'PUT', headers: { 'content-length': String(bytes), ...headers } }, Buffer.alloc(bytes, 1));

withTmpfs(t, 'a write that does not fit gets 507 and no byte reaches Apache; one that never fits gets 413', async (t) => {
  const { volume, relay, gateway } = await stack(t, 'size=16m');
  writeFileSync(path.join(volume, 'stored.bin'), Buffer.alloc(10 * MiB));
  await freshSnapshot(gateway, volume);
  const usedBefore = usedBytes(volume);
  const relayedBefore = relay.bytesToTarget();

  const refused = await put(gateway, 'eight.bin', 8 * MiB);
  t.equal(refused.status, 507);
  t.equal(refused.headers['content-type'], 'application/problem+json');
  t.equal(refused.headers['retry-after'], '60');
  t.equal(refused.headers.via, '1.1 headroom-1');
  t.equal(refused.headers['cache-control'], 'no-store');
  const body = JSON.parse(refused.body.toString()) as Record<string, unknown>;
  t.match(body, {
    type: 'urn:headroom:problem:insufficient_storage',
    title: 'Insufficient Storage',
    status: 507,
    error: 'insufficient_storage',
    requested: 8 * MiB,
    quota_total: 15 * MiB,
    origin: 'dav',
    volume,
    retry_after: 60,
    detail: String,
    message: String,
    suggested_action: String,
  });
  t.ok((body.quota_available as number) < 8 * MiB && (body.quota_available as number) > 4 * MiB, `quota_available ${body.quota_available}`);
  t.equal((body.quota_used as number) + (body.quota_available as number), body.quota_total, 'used + available = total');
  t.equal(relay.bytesToTarget(), relayedBefore, 'Apache received 0 bytes');
  t.equal(usedBytes(volume), usedBefore, 'the volume’s used bytes did not change');

  const tooLarge = await put(gateway, 'twenty.bin', 20 * MiB);
  t.equal(tooLarge.status, 413);
  t.match(JSON.parse(tooLarge.body.toString()), { error: 'payload_too_large', requested: 20 * MiB });
  t.equal(relay.bytesToTarget(), relayedBefore, 'Apache received 0 bytes of the 413 either');

  const fits = await put(gateway, 'four.bin', 4 * MiB);
  t.equal(fits.status, 201, 'a write that fits is stored by Apache');
  t.ok(relay.bytesToTarget() - relayedBefore >= 4 * MiB);

  const expect = await rawExchange(gateway.port, `PUT /eight.bin HTTP/1.1\r\nHost: x\r\nContent-Length: ${8 * MiB}\r\nExpect: 100-continue\r\n\r\n`, 1000);
  t.equal(statusOf(expect), 507, 'with Expect: 100-continue the refusal is the first answer');
  t.notMatch(expect, /100 Continue/, 'and no 100 Continue was sent');
});

withTmpfs(t, '16 concurrent 3 MiB PUTs into 15 MiB usable never overcommit', async (t) => {
  const { volume, relay, gateway } = await stack(t, 'size=16m');
  const results = await Promise.all(Array.from({ length: 16 }, (_, i) => put(gateway, `c${i}.bin`, 3 * MiB)));
  const admitted = results.filter((r) => r.status !== 507);
  t.ok(admitted.length * 3 <= 15, `${admitted.length} admitted × 3 MiB ≤ 15 MiB usable`);
  t.ok(admitted.length >= 4, `at least 4 admitted (${admitted.length})`);
  t.ok(admitted.every((r) => r.status === 201), 'every admitted PUT got 201 from Apache');
  t.equal(results.length - admitted.length, 16 - admitted.length);
  t.ok(results.filter((r) => r.status === 507).every((r) => JSON.parse(r.body.toString()).error === 'insufficient_storage'));
  const stored = readdirSync(volume).filter((n) => n.startsWith('c'));
  t.equal(stored.length, admitted.length, 'only admitted uploads are on the volume');
  const bodyBytes = admitted.length * 3 * MiB;
  t.ok(relay.bytesToTarget() < bodyBytes + 16 * 1024, 'refused PUTs put no bytes on the origin (only admitted bodies and heads were relayed)');
  t.equal(gateway.ledger.totalReservedBytes(), 0, 'the ledger is back to 0');
});

withTmpfs(t, 'a chunked upload that outgrows the room is cut: 507, no file kept, ledger at 0', async (t) => {
  const { volume, gateway } = await stack(t, 'size=16m', { policy: { unknownLength: '2MiB' } });
  const http = await import('node:http');
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(`${gateway.url}/grows.bin`, { method: 'PUT', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    let sent = 0;
    const write = (): void => {
      while (sent < 24 * MiB) {
        sent += 256 * 1024;
        if (!req.write(Buffer.alloc(256 * 1024, 3))) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
  t.equal(answer.status, 507);
  t.match(JSON.parse(answer.body), { error: 'insufficient_storage', requested: null });
  await until(() => readdirSync(volume).length === 0, 'Apache to drop its partial upload');
  t.same(readdirSync(volume), [], 'Apache kept no new file (not even a hidden temp file)');
  await until(() => gateway.ledger.totalReservedBytes() === 0, 'the ledger to return to 0');
});

withTmpfs(t, 'flood stage: refused above floodStage, still between the marks, admitted below floodRelease', async (t) => {
  const { volume, gateway } = await stack(t, 'size=16m', { policy: { floodStage: '75%', floodRelease: '50%', reserve: '0' } });
  const fill = (name: string, mib: number) => writeFileSync(path.join(volume, name), Buffer.alloc(mib * MiB));
  fill('a.bin', 6);
  fill('b.bin', 7);
  await freshSnapshot(gateway, volume);
  const zero = () => put(gateway, `zero-${Math.random()}.txt`, 0);
  const above = await zero();
  t.equal(above.status, 507, 'at 81% usage a 0-byte PUT is refused');
  t.equal(JSON.parse(above.body.toString()).error, 'storage_flood_stage');

  rmSync(path.join(volume, 'a.bin'));
  fill('c.bin', 3); // 10 MiB: 62%, between the marks
  await freshSnapshot(gateway, volume);
  t.equal((await zero()).status, 507, 'between floodRelease and floodStage it is still refused');

  rmSync(path.join(volume, 'b.bin')); // 3 MiB: 19%
  await freshSnapshot(gateway, volume);
  t.equal((await zero()).status, 201, 'below floodRelease writes are admitted again');
});

withTmpfs(t, 'inodes: creating writes get 507 once free inodes fall below minFreeInodes', async (t) => {
  const { volume, gateway } = await stack(t, 'size=16m,nr_inodes=40', { policy: { minFreeInodes: 10 } });
  let i = 0;
  while (statfsSync(volume).ffree >= 10) writeFileSync(path.join(volume, `f${i++}`), 'x');
  await freshSnapshot(gateway, volume);
  const refused = await put(gateway, 'one-more.txt', 1);
  t.equal(refused.status, 507);
  t.match(JSON.parse(refused.body.toString()), { error: 'insufficient_inodes', min_free_inodes: 10 });
  const read = await request(`${gateway.url}/f0`);
  t.equal(read.status, 200, 'reads still pass');
  const removed = await request(`${gateway.url}/f0`, { method: 'DELETE' });
  t.equal(removed.status, 204, 'DELETE is never refused for lack of room');
});

withTmpfs(t, 'an origin 507 passes through and marks the volume full; the next write never reaches the origin', async (t) => {
  const { volume, relay, gateway } = await stack(t, 'size=16m', {}, '1h');
  writeFileSync(path.join(volume, 'behind-our-back.bin'), Buffer.alloc(14 * MiB)); // the gateway still thinks 15 MiB usable
  const fromApache = await put(gateway, 'four.bin', 4 * MiB);
  t.equal(fromApache.status, 507, 'Apache’s own 507 reaches the client');
  t.notOk(fromApache.headers.server === 'headroom', 'with Apache’s headers and body, untouched');
  t.match(fromApache.headers.via, /headroom-1$/);
  const relayed = relay.bytesToTarget();
  const next = await put(gateway, 'one.bin', 1 * MiB);
  t.equal(next.status, 507, 'the next write is refused by the gateway');
  t.equal(next.headers.server, 'headroom');
  t.equal(relay.bytesToTarget(), relayed, 'without reaching the origin');
});
