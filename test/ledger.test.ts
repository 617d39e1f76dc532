import t, { type Test } from 'tap';
import type { Ledger, Reservation, ReserveRequest } from '../src/ledger/ledger.js';
import { MemoryLedger } from '../src/ledger/memory-ledger.js';
import { RedisLedger } from '../src/ledger/redis-ledger.js';
import { createLogger } from '../src/log/log.js';
import { SlowLedger } from './helpers/slow-ledger.js';
import { redisUnavailable, startRedis } from './helpers/redis.js';

const ask = (volumeKey: string, bytes: number, more: Partial<ReserveRequest> = {}): ReserveRequest => ({ volumeKey, bytes, inodes: 0, roomBytes: Infinity, roomInodes: Infinity, since: null, ...more });

async function granted(ledger: Ledger, request: ReserveRequest): Promise<Reservation> {
  const answer = await ledger.reserve(request);
  if (!answer.granted) throw new Error(`refused: ${JSON.stringify(answer)}`);
  return answer.reservation;
}

/** The ledger's contract, the same for one that answers at once and one that answers later. */
function contract(t: Test, make: (t: Test) => Ledger | Promise<Ledger>): void {
  t.test('reservations add up per volume and release exactly once', async (t) => {
    const ledger = await make(t);
    const a = await granted(ledger, ask('v1', 100));
    const b = await granted(ledger, ask('v1', 50));
    const c = await granted(ledger, ask('v2', 7));
    t.equal(ledger.reservedBytes('v1'), 150);
    t.equal(ledger.totalReservedBytes(), 157);
    a.consume(30);
    t.equal(a.bytes, 70);
    t.equal(ledger.reservedBytes('v1'), 120, 'consumed bytes are no longer reserved');
    a.consume(1000);
    t.equal(a.bytes, 0, 'consuming never goes below zero');
    t.equal(await a.grow(25, Infinity, null), 'held');
    t.equal(ledger.reservedBytes('v1'), 75);
    a.release();
    a.release();
    t.equal(ledger.reservedBytes('v1'), 50, 'a second release gives back nothing');
    t.equal(await a.grow(10, Infinity, null), 'refused', 'a released reservation cannot grow');
    a.consume(5);
    t.equal(ledger.reservedBytes('v1'), 50, 'a released reservation holds nothing more');
    b.release();
    c.release();
    t.equal(ledger.totalReservedBytes(), 0);
    t.equal(ledger.reservedBytes('v1'), 0);
  });

  t.test('check and hold are one step: a request past the room is refused with the figures, and holds nothing', async (t) => {
    const ledger = await make(t);
    const a = await granted(ledger, ask('v', 60, { roomBytes: 100 }));
    t.same(await ledger.reserve(ask('v', 41, { roomBytes: 100 })), { granted: false, reservedBytes: 60, reservedInodes: 0, writtenBytes: 0, writtenInodes: 0 });
    t.equal(ledger.reservedBytes('v'), 60, 'the refused request holds nothing');
    const b = await granted(ledger, ask('v', 40, { roomBytes: 100 }));
    t.equal(await a.grow(1, 100, null), 'refused', 'growth past the room is refused');
    t.equal(ledger.reservedBytes('v'), 100, 'and holds nothing');
    b.release();
    t.equal(await a.grow(40, 100, null), 'held', 'growth within the room is held');
    t.equal(ledger.reservedBytes('v'), 100);
    a.release();
  });

  t.test('inodes are held with the bytes, checked against their own room, and given back on release', async (t) => {
    const ledger = await make(t);
    const a = await granted(ledger, ask('v1', 10, { inodes: 1, roomInodes: 2 }));
    const b = await granted(ledger, ask('v1', 0, { inodes: 1, roomInodes: 2 }));
    t.same(await ledger.reserve(ask('v1', 0, { inodes: 1, roomInodes: 2 })), { granted: false, reservedBytes: 10, reservedInodes: 2, writtenBytes: 0, writtenInodes: 0 }, 'a third inode is past the room');
    await granted(ledger, ask('v2', 5));
    t.equal(ledger.reservedInodes('v1'), 2);
    t.equal(ledger.reservedInodes('v2'), 0, 'a write that creates nothing holds no inode');
    a.consume(10);
    t.equal(a.inodes, 1, 'streaming the bytes does not give the inode back');
    a.release();
    b.release();
    b.release();
    t.equal(ledger.reservedInodes('v1'), 0);
    t.equal(ledger.totalReservedInodes(), 0);
  });

  t.test('16 requests asked at once against one room: exactly as many are granted as fit', async (t) => {
    const ledger = await make(t);
    const answers = await Promise.all(Array.from({ length: 16 }, () => ledger.reserve(ask('v', 10, { roomBytes: 100 }))));
    t.equal(answers.filter((a) => a.granted).length, 10);
    t.equal(ledger.reservedBytes('v'), 100, 'never more than the room');
  });
}

t.test('the memory ledger', async (t) => contract(t, () => new MemoryLedger()));
t.test('a ledger that answers later', async (t) => contract(t, () => new SlowLedger(5)));
t.test('the Redis ledger, one gateway on it', async (t) => {
  const skip = redisUnavailable();
  if (skip) return void t.comment(`skipped: ${skip}`);
  const redis = await startRedis(t);
  contract(t, async (t) => {
    const ledger = new RedisLedger({ url: redis.url, sentinel: { name: '', addresses: [] }, leaseTimeMs: 10_000, timeoutMs: 1000, onUnavailable: 'reject', keepMs: () => 20_000, logger: createLogger('silent') });
    t.teardown(() => ledger.close());
    t.ok(await ledger.connected(5000), 'Redis answers');
    return ledger;
  });
});
t.test('the memory ledger answers at once: no promise', async (t) => {
  const ledger = new MemoryLedger();
  const answer = ledger.reserve(ask('v', 1));
  t.notOk(answer instanceof Promise);
  t.ok(answer.granted && !((answer.reservation.grow(1, Infinity, null) as unknown) instanceof Promise));
});
