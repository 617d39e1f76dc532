import t, { type Test } from 'tap';
import type { Reservation, ReserveAnswer, ReserveRequest } from '../src/ledger/ledger.js';
import { RedisLedger, type RedisLedgerOptions } from '../src/ledger/redis-ledger.js';
import { createLogger } from '../src/log/log.js';
import { until } from './helpers/http.js';
import { redisUnavailable, startRedis, type RedisServer } from './helpers/redis.js';

// Several gateways (owners) on one Redis, each a RedisLedger of its own, as replicas are.

const skip = redisUnavailable();
if (skip) t.test('several replicas on one Redis', { skip }, async () => undefined);

const ask = (bytes: number, more: Partial<ReserveRequest> = {}): ReserveRequest => ({ volumeKey: 'files\u0000/data', bytes, inodes: 0, roomBytes: 100, roomInodes: Infinity, since: Date.now(), ...more });

async function replica(t: Test, redis: RedisServer, more: Partial<RedisLedgerOptions> = {}): Promise<RedisLedger> {
  const ledger = new RedisLedger({ url: redis.url, sentinel: { name: '', addresses: [] }, leaseTimeMs: 10_000, timeoutMs: 300, onUnavailable: 'reject', keepMs: () => 20_000, logger: createLogger('silent'), ...more });
  t.teardown(() => ledger.close());
  t.ok(await ledger.connected(5000), 'Redis answers');
  return ledger;
}

function held(answer: ReserveAnswer): Reservation {
  if (!answer.granted) throw new Error(`refused: ${JSON.stringify(answer)}`);
  return answer.reservation;
}

if (!skip) {
  t.test('what one replica holds, another cannot take; what it streamed stays held for the others until its exchange ends', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, redis);
    const b = await replica(t, redis);
    const upload = held(await a.reserve(ask(60)));
    t.match(await b.reserve(ask(41)), { granted: false, reservedBytes: 60, writtenBytes: 0 }, 'B sees A’s 60 bytes held');
    upload.consume(30);
    t.equal(await upload.grow(10, 100, Date.now()), 'held', 'A grows its own upload: its streamed bytes are its own count, not held against it');
    t.match(await b.reserve(ask(31)), { granted: false, reservedBytes: 70 }, 'for B the streamed bytes are still held: A alone knows when they reach the disk');
    const before = Date.now() - 1;
    upload.release({ bytes: 70, inodes: 1 });
    await until(async () => (await redis.cli('HGET', 'headroom:{files%00%2Fdata}:totals', 'granted')) === '0', 'the release to reach Redis');
    t.match(await b.reserve(ask(31, { since: before })), { granted: false, reservedBytes: 0, writtenBytes: 70, writtenInodes: 1 }, 'after the end, what A wrote counts for B’s snapshot that started before');
    const later = held(await b.reserve(ask(100, { since: Date.now() + 1000 })));
    t.equal(later.bytes, 100, 'a snapshot that started after A’s write sees it on the disk: all the room is B’s');
    later.release();
    const own = held(await a.reserve(ask(100, { since: before })));
    own.release();
    t.pass('A’s own writes are not counted twice against A (its own count has them)');
  });

  t.test('32 asks from two replicas at once against one room: exactly as many are granted as fit', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, redis);
    const b = await replica(t, redis);
    const answers = await Promise.all(Array.from({ length: 32 }, (_, i) => (i % 2 ? a : b).reserve(ask(10, { roomBytes: 150 }))));
    t.equal(answers.filter((x) => x.granted).length, 15);
    t.equal(await redis.cli('HGET', 'headroom:{files%00%2Fdata}:totals', 'granted'), '150', 'never more than the room');
  });

  t.test('a replica that stops renewing loses its leases within the lease time; the bytes it streamed count as written', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, redis, { leaseTimeMs: 400 });
    const b = await replica(t, redis, { leaseTimeMs: 400 });
    const upload = held(await a.reserve(ask(80)));
    upload.consume(50);
    await a.renew(); // Redis learns what was streamed, as the renewals tell it
    const since = Date.now() - 1;
    await a.close(); // as a crashed replica: no more renewals, no release
    const startedAt = Date.now();
    t.match(await b.reserve(ask(30, { since })), { granted: false, reservedBytes: 80 }, 'still held while the lease lives');
    await until(async () => (await b.reserve(ask(0, { since }))).granted && b.reservedBytes('files\u0000/data') === 0, 'the lease to expire', 3000);
    t.ok(Date.now() - startedAt < 400 + 1000, 'gone within the lease time (and a renewal period)');
    t.match(await b.reserve(ask(60, { since })), { granted: false, writtenBytes: 50 }, 'its streamed bytes count as written for a snapshot that started before');
    held(await b.reserve(ask(50, { since }))).release();
  });

  t.test('time is Redis’: a replica whose clock is an hour ahead still counts what others wrote after its snapshot', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, redis);
    const skew = 3_600_000;
    const b = await replica(t, redis, { now: () => Date.now() + skew });
    const snapshotOfB = Date.now() + skew; // B's snapshot starts, by B's clock
    held(await a.reserve(ask(40))).release({ bytes: 40, inodes: 0 });
    await until(async () => (await redis.cli('HGET', 'headroom:{files%00%2Fdata}:totals', 'granted')) === '0', 'the release to reach Redis');
    t.match(await b.reserve(ask(61, { since: snapshotOfB })), { granted: false, writtenBytes: 40 }, 'A’s write after B’s snapshot counts against B’s room');
  });

  t.test('Redis paused: reject answers unavailable within the timeout; resumed, writes return to the shared ledger with no restart', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, redis, { leaseTimeMs: 600, timeoutMs: 200 });
    redis.pause();
    const asked = Date.now();
    t.match(await a.reserve(ask(10)), { granted: false, unavailable: /Redis: .*timed out/ });
    t.ok(Date.now() - asked < 1000, 'the answer waits for the timeout, not for Redis');
    t.match(a.describe(), { backend: 'redis', state: 'unavailable', unavailable: 1 });
    t.match(await a.reserve(ask(10)), { granted: false, unavailable: /Redis/ }, 'later writes are refused at once');
    redis.resume();
    await until(() => a.describe().state === 'shared', 'the ledger to be shared again', 600);
    held(await a.reserve(ask(10))).release();
  });

  t.test('Redis stopped: local judges alone on this replica’s holds; Redis back (empty), its leases are written there', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, redis, { leaseTimeMs: 600, timeoutMs: 200, onUnavailable: 'local' });
    await redis.stop();
    const first = held(await a.reserve(ask(70)));
    t.match(a.describe(), { state: 'local', lastError: /.+/ });
    t.match(await a.reserve(ask(31)), { granted: false, reservedBytes: 70 }, 'judged alone: its own holds still count');
    await redis.start();
    await until(() => a.describe().state === 'shared', 'the ledger to be shared again', 2000);
    const b = await replica(t, redis);
    t.match(await b.reserve(ask(31)), { granted: false, reservedBytes: 70 }, 'the lease granted alone is in Redis now: another replica sees it');
    first.release();
  });
}
