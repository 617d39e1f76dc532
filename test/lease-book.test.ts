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
