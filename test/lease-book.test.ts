import t from 'tap';
import { BUCKET_MS, LeaseBook } from '../src/ledger/lease-book.js';

// The book a shared ledger keeps in one process (the group's primary):
// what other owners wrote counts against an ask whose snapshot started
// before it, for as long as the book keeps it.

const KEY = 'files\u0000/srv';
const T0 = 1_000_000 * BUCKET_MS;
const ask = (owner: string, bytes: number, roomBytes: number, since: number | null) => ({ owner, volumeKey: KEY, bytes, inodes: 0, roomBytes, roomInodes: Infinity, since });

/** A lease of `owner` that wrote `bytes` and ended at `now`. */
function wrote(book: LeaseBook, id: string, owner: string, bytes: number, now: number): void {
  t.equal(book.reserve(id, ask(owner, bytes, Infinity, null), now).granted, true);
  book.release(id, KEY, { bytes, inodes: 0 }, now);
}

t.test('what another owner wrote counts against a snapshot that started before it ended, not after', async (t) => {
  const book = new LeaseBook(10_000);
  wrote(book, 'a.1', 'a', 100, T0 + 10);
  wrote(book, 'a.2', 'a', 50, T0 + 3 * BUCKET_MS);
  t.equal(book.reserve('b.1', ask('b', 0, Infinity, T0 - 1), T0 + 4 * BUCKET_MS).writtenBytes, 150, 'a snapshot from before both writes: both count');
  t.equal(book.reserve('b.2', ask('b', 0, Infinity, T0 + BUCKET_MS), T0 + 4 * BUCKET_MS).writtenBytes, 50, 'from after the first one’s bucket: only the second counts');
  t.equal(book.reserve('b.3', ask('b', 0, Infinity, T0 + 4 * BUCKET_MS), T0 + 4 * BUCKET_MS).writtenBytes, 0, 'from after both: none');
  t.equal(book.reserve('a.3', ask('a', 0, Infinity, T0 - 1), T0 + 4 * BUCKET_MS).writtenBytes, 0, 'an owner’s own writes are its own count, not the book’s');
  t.equal(book.reserve('b.4', ask('b', 0, Infinity, null), T0 + 4 * BUCKET_MS).writtenBytes, 0, 'no snapshot bounds the ask: nothing written counts');
  t.equal(book.reserve('b.5', ask('b', 100, 249, T0 - 1), T0 + 4 * BUCKET_MS).granted, false, 'and the written bytes count against the room: 150 + 100 > 249');
});

t.test('writes in one bucket add up; a clock that steps back counts later, never not at all; and the book forgets past keepMs', async (t) => {
  const book = new LeaseBook(10_000);
  wrote(book, 'a.1', 'a', 10, T0 + 2 * BUCKET_MS);
  wrote(book, 'a.2', 'a', 20, T0 + 2 * BUCKET_MS + 5);
  wrote(book, 'a.3', 'a', 40, T0); // the clock stepped back
  t.equal(book.reserve('b.1', ask('b', 0, Infinity, T0 + 2 * BUCKET_MS), T0 + 3 * BUCKET_MS).writtenBytes, 70, 'all three count for a snapshot from the second bucket');
  t.equal(book.reserve('b.2', ask('b', 0, Infinity, T0 - 1), T0 + 2 * BUCKET_MS + 10_000).writtenBytes, 70, 'still within keepMs');
  t.equal(book.reserve('b.3', ask('b', 0, Infinity, T0 - 1), T0 + 3 * BUCKET_MS + 10_000).writtenBytes, 0, 'past keepMs: forgotten');
  wrote(book, 'a.4', 'a', 5, T0 + 4 * BUCKET_MS + 10_000);
  t.equal(book.reserve('b.4', ask('b', 0, Infinity, T0 - 1), T0 + 4 * BUCKET_MS + 10_000).writtenBytes, 5, 'a write after forgetting counts again');
});

t.test('randomized, on a clock that only goes forward: what counts is what a flat list of every write says', async (t) => {
  let mismatches = 0;
  let checked = 0;
  for (let seed = 1; seed <= 50; seed++) {
    let a = seed;
    const rnd = (): number => {
      a = (a * 1103515245 + 12345) % 2147483648;
      return a / 2147483648;
    };
    const keepMs = 2_000 + Math.floor(rnd() * 10_000);
    const book = new LeaseBook(keepMs);
    const flat: Array<{ owner: string; bucket: number; bytes: number }> = [];
    let now = T0 + Math.floor(rnd() * BUCKET_MS);
    for (let step = 0; step < 400; step++) {
      now += Math.floor(rnd() * rnd() * 3 * BUCKET_MS);
      const owner = ['a', 'b', 'c'][Math.floor(rnd() * 3)]!;
      if (rnd() < 0.5) {
        const bytes = 1 + Math.floor(rnd() * 1000);
        wrote(book, `${owner}.${step}`, owner, bytes, now);
        flat.push({ owner, bucket: Math.floor(now / BUCKET_MS), bytes });
      } else {
        const since = rnd() < 0.1 ? null : now - Math.floor(rnd() * (keepMs + 2_000));
        const oldest = Math.floor((now - keepMs) / BUCKET_MS);
        const want = since === null ? 0 : flat.filter((w) => w.owner !== owner && w.bucket >= oldest && (w.bucket + 1) * BUCKET_MS > since).reduce((n, w) => n + w.bytes, 0);
        const got = book.reserve(`${owner}.ask${step}`, ask(owner, 0, Infinity, since), now).writtenBytes;
        checked++;
        if (got !== want && ++mismatches <= 5) t.equal(got, want, `seed ${seed}, step ${step}: ${owner} since ${since} at ${now}`);
      }
    }
  }
  t.equal(mismatches, 0, `${checked} asks agree with the flat list`);
});
