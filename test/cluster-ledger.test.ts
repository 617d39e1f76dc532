import v8 from 'node:v8';
import t from 'tap';
import { LedgerClient } from '../src/cluster/ledger-client.js';
import { LedgerHost } from '../src/cluster/ledger-host.js';
import type { ToPrimary, ToWorker } from '../src/cluster/messages.js';
import type { Reservation, ReserveAnswer, ReserveRequest } from '../src/ledger/ledger.js';

// The group's memory ledger over its channel, in one process: two workers'
// clients and the primary's host, each message passed through the
// serialization the IPC channel uses, one event-loop turn later.

const KEY = 'files\u0000/srv';
const ask = (bytes: number, roomBytes: number): ReserveRequest => ({ volumeKey: KEY, bytes, inodes: 1, roomBytes, roomInodes: Infinity, since: Date.now() - 100 });
/** Turns of the event loop enough for a call to be sent and taken (the client's turn, then the channel's). */
const turns = async (n = 2): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};
const wire = <T>(message: T): T => v8.deserialize(v8.serialize(message)) as T;

function group() {
  const sent: Record<string, ToPrimary[]> = { a: [], b: [] };
  const open: Record<string, boolean> = { a: true, b: true };
  const clients: Record<string, LedgerClient> = {};
  const host = new LedgerHost(20_000, (replies, held) => {
    for (const owner of ['a', 'b']) {
      const mine = replies.get(owner);
      if (mine === undefined && held.length === 0) continue;
      const message = wire<ToWorker>({ type: 'ledger', replies: mine ?? [], held });
      if (message.type === 'ledger') setImmediate(() => clients[owner]!.received(message.replies, message.held));
    }
  });
  for (const owner of ['a', 'b']) {
    clients[owner] = new LedgerClient(owner, (message) => {
      if (!open[owner]) return false;
      sent[owner]!.push(message);
      const arrived = wire(message);
      if (arrived.type === 'ledger') setImmediate(() => host.handle(owner, arrived.calls));
      return true;
    });
  }
  return { host, a: clients.a!, b: clients.b!, sent, open };
}

const reservations = (answers: ReserveAnswer[]): Reservation[] => answers.flatMap((a) => (a.granted ? [a.reservation] : []));

t.test('the reserves of one turn go in one message and are taken in the order they were made', async (t) => {
  const { a, sent } = group();
  const answers = await Promise.all(Array.from({ length: 10 }, () => a.reserve(ask(100, 600))));
  t.equal(sent.a!.length, 1, 'ten reserves, one message');
  t.same(answers.map((x) => x.granted), [true, true, true, true, true, true, false, false, false, false], 'the first six fit the room, in the order asked');
  const refused = answers[6]!;
  t.same(refused.granted === false && 'reservedBytes' in refused ? refused.reservedBytes : null, 600, 'a refusal carries the figures it was refused on');
  t.equal(a.reservedBytes(KEY), 600, 'the held figures came with the answers');
});

t.test('two workers asking in the same turn: the primary never admits more than the room', async (t) => {
  const { host, a, b } = group();
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).reserve(ask(100, 1200))));
  t.equal(answers.filter((x) => x.granted).length, 12, 'twelve of twenty fit 1200 bytes');
  t.equal(host.reservedBytes(KEY), 1200, 'the book holds exactly the room');
  t.equal(a.reservedBytes(KEY), 1200, 'worker a sees the group’s holds');
  t.equal(b.reservedBytes(KEY), 1200, 'and so does worker b');
});

t.test('a release and a reserve in the same turn are taken in the order they were made', async (t) => {
  const { host, a } = group();
  const [first] = reservations([await a.reserve(ask(100, 100))]);
  first!.release({ bytes: 0, inodes: 0 });
  const after = a.reserve(ask(100, 100));
  t.equal((await after).granted, true, 'released first: the room is free for the reserve that follows');
  const [second] = reservations([await after]);
  const before = a.reserve(ask(100, 100));
  second!.release({ bytes: 0, inodes: 0 });
  t.equal((await before).granted, false, 'asked before the release: the room was still held');
  await turns();
  t.equal(host.reservedBytes(KEY), 0, 'nothing held in the end');
});

t.test('a worker gone with its release never sent: the primary ends its leases, and a call of it still in the channel is not taken', async (t) => {
  const { host, a, b, open } = group();
  const held = reservations(await Promise.all([a.reserve(ask(100, 300)), a.reserve(ask(100, 300))]));
  t.equal(held.length, 2);
  open.a = false; // it dies: what it calls from now on never leaves it
  for (const r of held) r.release({ bytes: 100, inodes: 1 });
  t.equal(host.reservedBytes(KEY), 200, 'the book still holds them: their releases were lost with the worker');
  host.releaseOwner('a');
  t.equal(host.reservedBytes(KEY), 0, 'the primary ended them when it saw the worker go');
  host.handle('a', [[0, 99, 99, KEY, 100, 1, 300, Infinity, null]]);
  t.equal(host.reservedBytes(KEY), 0, 'a reserve of the dead worker that arrives late holds nothing');
  const [other] = reservations([await b.reserve(ask(300, 300))]);
  t.ok(other, 'the other worker gets the room back');
});

t.test('calls that cannot be sent, or still wait when the channel closes, are answered "unavailable"', async (t) => {
  const { a, b, open } = group();
  open.a = false;
  const answer = await a.reserve(ask(100, 1000));
  t.same(answer, { granted: false, unavailable: 'the primary process does not answer' }, 'the channel closed: unavailable, not a guess');
  const waiting = b.reserve(ask(100, 1000));
  b.flush();
  b.disconnected();
  t.same(await waiting, { granted: false, unavailable: 'the primary process does not answer' }, 'sent, then the channel closed before the answer');
});

t.test('a growth is answered from the book, after the reserve made before it', async (t) => {
  const { host, a } = group();
  const [upload] = reservations([await a.reserve(ask(100, 300))]);
  upload!.consume(100);
  t.equal(await upload!.grow(150, 300, null), 'held', 'what it streamed no longer counts against its own growth');
  t.equal(await upload!.grow(200, 300, null), 'refused', 'past the room: refused');
  upload!.release();
  await turns();
  t.equal(host.reservedBytes(KEY), 0, 'released');
});

t.test('a worker’s malformed calls: the primary does not throw, answers what it can as malformed, and the book does not move', async (t) => {
  const delivered: Array<ReadonlyMap<string, readonly unknown[]>> = [];
  const host = new LedgerHost(20_000, (replies) => delivered.push(replies));
  const hostile = (calls: unknown): void => host.handle('evil', calls as never);
  const since = Date.now() - 100;
  const cases: Array<[string, unknown]> = [
    ['no list', undefined],
    ['a list of nothing usable', [null, 5, 'x', {}]],
    ['an unknown op', [[9, 1, 1, KEY]]],
    ['a reserve too short', [[0, 2]]],
    ['a reserve of negative bytes', [[0, 3, 3, KEY, -1e12, 0, 1000, Infinity, since]]],
    ['a reserve of NaN bytes', [[0, 4, 4, KEY, Number.NaN, 0, 1000, Infinity, since]]],
    ['a reserve of Infinity bytes', [[0, 5, 5, KEY, Infinity, 0, Infinity, Infinity, since]]],
    ['a reserve with NaN room', [[0, 6, 6, KEY, 10, 0, Number.NaN, Infinity, since]]],
    ['a reserve with no key', [[0, 7, 7, 42, 10, 0, 1000, Infinity, since]]],
    ['a growth of negative bytes', [[1, 8, 20, KEY, 0, -1e12, 1000, since]]],
    ['a reserve of 2^60 bytes, where 100 more would not count', [[0, 9, 9, KEY, 2 ** 60, 0, Infinity, Infinity, null]]],
    ['a reserve of half a byte', [[0, 10, 10, KEY, 0.5, 0, 1000, Infinity, since]]],
  ];
  for (const [name, calls] of cases) t.doesNotThrow(() => hostile(calls), name);
  // A lease of its own that it then releases with hostile figures.
  hostile([[0, 20, 20, KEY, 100, 0, 1000, Infinity, since]]);
  t.equal(host.reservedBytes(KEY), 100, 'only the well-formed reserve holds anything');
  hostile([[2, 20, KEY, -1e12, 0], [2, 20, KEY, Number.NaN, 0], [2, 20, KEY], [2, 20, KEY, 10, 0, 'extra']]);
  t.equal(host.reservedBytes(KEY), 100, 'releases with negative, NaN or missing figures are not taken: the lease still holds');
  await turns(1);
  const answers = delivered.flatMap((d) => d.get('evil') ?? []);
  t.ok(answers.every((a) => Array.isArray(a) && typeof a[0] === 'number'), 'every answer is a tuple with its call’s number (a worker reads reply[0])');
  t.same(answers.filter((a) => (a as unknown[])[1] === 'malformed').map((a) => (a as unknown[])[0]).sort((x, y) => (x as number) - (y as number)), [2, 3, 4, 5, 6, 7, 8, 9, 10], 'each malformed call with a number is answered, so its exchange does not wait for ever');
  /** An honest worker's reserve, taken at once: whether the book holds more after it. */
  const honest = (bytes: number, lease: number): boolean => {
    const before = host.reservedBytes(KEY);
    host.handle('b', [[0, lease, lease, KEY, bytes, 0, 1000, Infinity, since]]);
    return host.reservedBytes(KEY) > before;
  };
  t.equal(honest(1000, 1), false, 'an honest worker still finds the 100 bytes held: 1000 does not fit a room of 1000');
  t.equal(honest(900, 2), true, '900 does');
  t.equal(host.reservedBytes(KEY), 1000, 'the book holds exactly the room');
});

t.test('a worker whose reserve or growth the primary finds malformed hears "unavailable" (a 503), not nothing', async (t) => {
  const { host, a } = group();
  t.same(await a.reserve(ask(Number.NaN, 1000)), { granted: false, unavailable: 'the primary answered something else' });
  t.same(await a.reserve(ask(-100, 1000)), { granted: false, unavailable: 'the primary answered something else' });
  const [upload] = reservations([await a.reserve(ask(100, 1000))]);
  t.equal(await upload!.grow(-50, 1000, null), 'unavailable', 'a growth of negative bytes');
  t.equal(await upload!.grow(0.5, 1000, null), 'unavailable', 'of half a byte');
  upload!.release();
  await turns();
  t.equal(host.reservedBytes(KEY), 0, 'the one well-formed lease held, and ended');
});
