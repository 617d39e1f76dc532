import t from 'tap';
import http from 'node:http';
import { readdirSync, rmSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { request, until } from './helpers/http.js';
import { redisUnavailable, startRedis } from './helpers/redis.js';
import { freshSnapshots, replicas, statusOf } from './helpers/replicas.js';
import { problemOf, writeBody, type Outcome } from './helpers/upload.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// Replicas: two `headroom proxy` processes, one Redis ledger, one Apache on
// a real 16 MiB tmpfs. Each replica measures the volume itself (statfs, as
// sidecars on one host do); only the ledger is shared.

const MiB = 1024 * 1024;
const RESERVE = MiB;
const skip = redisUnavailable();

/** A PUT of `bytes`, with Content-Length or chunked in 64 KiB writes; resolves with the answer, whatever it is. */
function upload(url: string, bytes: number, chunked: boolean): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', agent: false, headers: chunked ? {} : { 'content-length': String(bytes) } });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, problem: problemOf(res, Buffer.concat(parts)), bytes }));
    });
    // A refused upload's connection may close while its body is still being written.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
    writeBody(req, bytes);
  });
}

const usableRoom = (dir: string): number => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize - RESERVE;
};

const empty = (dir: string): void => {
  for (const name of readdirSync(dir)) rmSync(path.join(dir, name), { recursive: true, force: true });
};

if (skip) t.test('replicas on one Redis', { skip }, async () => undefined);
else if (!apacheInstalled()) t.fail('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
else {
  withTmpfs(t, 'two replicas on one Redis: 32 concurrent uploads a round, five rounds — Apache never answers 507, and what is admitted fits', async (t) => {
    const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
    const apache = await startApache(volume);
    t.teardown(() => apache.close());
    const redis = await startRedis(t);
    const gateways = await replicas(t, redis, volume, apache.url);
    const sizes = [256 * 1024, 512 * 1024, MiB, 2 * MiB];
    for (let round = 1; round <= 5; round++) {
      empty(volume);
      await freshSnapshots(gateways);
      const room = usableRoom(volume);
      const outcomes = await Promise.all(
        Array.from({ length: 32 }, (_, i) => upload(`${gateways[i % 2]!.url}/r${round}-${i}.bin`, sizes[i % sizes.length]!, i % 3 === 0)),
      );
      const fromApache507 = outcomes.filter((o) => o.status === 507 && o.problem === null).length;
      const admitted = outcomes.filter((o) => o.status === 201 || o.status === 204);
      const admittedBytes = admitted.reduce((sum, o) => sum + o.bytes, 0);
      t.equal(fromApache507, 0, `round ${round}: Apache never answered 507`);
      t.ok(admittedBytes <= room, `round ${round}: ${admitted.length} uploads admitted, ${(admittedBytes / MiB).toFixed(2)} MiB ≤ ${(room / MiB).toFixed(2)} MiB usable`);
      t.ok(admitted.length > 0 && outcomes.some((o) => o.problem === 'insufficient_storage'), `round ${round}: some admitted, some refused by the gateway`);
      t.ok(outcomes.every((o) => o.status === 201 || o.status === 204 || o.problem === 'insufficient_storage'), `round ${round}: nothing else (${[...new Set(outcomes.map((o) => o.problem ?? o.status))].join(', ')})`);
    }
    for (const g of gateways) await until(async () => (await statusOf(g)).reservedBytes === 0, 'reservations to return to 0');
  });

  withTmpfs(t, 'workers: 2 on one Redis: every worker asks the shared ledger — 32 concurrent uploads, two rounds, no 507 from Apache, nothing left reserved', async (t) => {
    const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
    const apache = await startApache(volume);
    t.teardown(() => apache.close());
    const redis = await startRedis(t);
    const [group] = await replicas(t, redis, volume, apache.url, {}, { count: 1, workers: 2 });
    for (let round = 1; round <= 2; round++) {
      empty(volume);
      await freshSnapshots([group!]);
      const room = usableRoom(volume);
      const outcomes = await Promise.all(Array.from({ length: 32 }, (_, i) => upload(`${group!.url}/w${round}-${i}.bin`, (i % 4 + 1) * 512 * 1024, i % 3 === 0)));
      const admitted = outcomes.filter((o) => o.status === 201 || o.status === 204);
      t.equal(outcomes.filter((o) => o.status === 507 && o.problem === null).length, 0, `round ${round}: Apache never answered 507`);
      t.ok(admitted.reduce((sum, o) => sum + o.bytes, 0) <= room, `round ${round}: ${admitted.length} admitted within the room`);
      t.ok(outcomes.some((o) => o.problem === 'insufficient_storage'), `round ${round}: the rest refused by the gateway`);
    }
    const key = `headroom:{${encodeURIComponent(`dav\u0000${volume}`)}}:totals`;
    await until(async () => (await redis.cli('HGET', key, 'granted')) === '0', 'every lease to be released');
    const owners = (await redis.cli('HKEYS', key)).split('\n').filter((k) => k.startsWith('c\t'));
    t.same(owners, [], 'no owner holds anything');
  });

  withTmpfs(t, 'kill -9 of a replica mid-upload: its lease expires within the lease time, and the other replica admits into the room it held', async (t) => {
    const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
    const apache = await startApache(volume);
    t.teardown(() => apache.close());
    const redis = await startRedis(t);
    const [a, b] = await replicas(t, redis, volume, apache.url, { leaseTime: '1s' });
    // A 12 MiB upload through A, stalled after its first bytes: its reservation holds most of the room.
    const stalled = http.request(`${a!.url}/stalled.bin`, { method: 'PUT', agent: false, headers: { 'content-length': String(12 * MiB) } });
    stalled.on('error', () => undefined);
    stalled.write(Buffer.alloc(64 * 1024));
    await until(async () => (await statusOf(b!)).reservedBytes >= 12 * MiB, 'B to see A’s reservation');
    const refused = await upload(`${b!.url}/waiting.bin`, 8 * MiB, false);
    t.equal(refused.problem, 'insufficient_storage', 'while A holds the room, B refuses');
    a!.kill();
    const killedAt = Date.now();
    await until(async () => (await statusOf(b!)).reservedBytes === 0, 'A’s lease to be gone', 5000);
    const gone = Date.now() - killedAt;
    t.ok(gone < 1000 + 1000, `A’s lease was gone ${gone} ms after kill -9 (lease time 1 s, and one renewal)`);
    await freshSnapshots([b!]);
    const admitted = await upload(`${b!.url}/waiting.bin`, 8 * MiB, false);
    t.equal(admitted.status, 201, 'B admits into the room A held');
    t.equal(await redis.cli('HGET', `headroom:{${encodeURIComponent(`dav\u0000${volume}`)}}:totals`, 'granted'), '0', 'the ledger’s reserved bytes are 0');
  });

  for (const onUnavailable of ['reject', 'local'] as const) {
    withTmpfs(t, `Redis stopped mid-run, onUnavailable: ${onUnavailable}; back, the shared ledger again within one lease period, no restart`, async (t) => {
      const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
      const apache = await startApache(volume);
      t.teardown(() => apache.close());
      const redis = await startRedis(t);
      const [a, b] = await replicas(t, redis, volume, apache.url, { leaseTime: '1s', timeout: '200ms', onUnavailable });
      t.equal((await upload(`${a!.url}/before.bin`, MiB, false)).status, 201);
      await redis.stop();
      const write = await upload(`${a!.url}/during.bin`, MiB, true);
      const read = await request(`${a!.url}/before.bin`);
      t.equal(read.status, 200, 'reads pass');
      t.equal(read.body.length, MiB);
      const ready = await request(`${a!.adminUrl}/readyz`);
      const readyz = JSON.parse(ready.body.toString()) as { status: string; notes?: string[] };
      if (onUnavailable === 'reject') {
        t.equal(write.status, 503, 'writes get 503');
        t.equal(write.problem, 'ledger_unavailable');
        t.match(readyz, { status: 'ready', notes: [/writes are refused with 503/] }, '/readyz says writes are refused');
      } else {
        t.equal(write.status, 201, 'writes are judged by this replica alone');
        t.match(readyz, { status: 'ready', notes: [/judged by this gateway alone/] }, '/readyz says writes are judged locally');
      }
      t.equal(ready.status, 200);
      const metrics = (await request(`${a!.adminUrl}/metrics`)).body.toString();
      t.match(metrics, /^headroom_ledger_shared 0$/m, 'the metric says the shared ledger is not in use');
      await redis.start();
      const back = Date.now();
      for (const g of [a!, b!]) await until(async () => (await statusOf(g)).ledger.state === 'shared', 'the shared ledger again', 3000);
      t.ok(Date.now() - back < 1000, 'within one lease period of Redis being back');
      t.equal((await upload(`${b!.url}/after.bin`, MiB, false)).status, 201, 'writes are judged by the shared ledger again');
      const said = (): string => a!.lines.map((l) => String(l.msg)).join('\n');
      const leftAndBack = /ledger: Redis does not answer .*\n(.*\n)*ledger: Redis answers; writes are judged by the shared ledger/;
      await until(() => leftAndBack.test(said()), 'the log to say when the ledger left and came back', 3000);
    });
  }
}
