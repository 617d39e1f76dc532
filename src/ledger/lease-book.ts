import type { ReserveRequest, Written } from './ledger.js';

/**
 * The model a ledger shared by several processes (owners) keeps, the same
 * whether it lives in Redis (lease-script.ts, in Lua) or in one process
 * that others ask (a gateway's primary for its workers):
 *
 * - a lease holds what its owner was granted, less nothing: bytes the owner
 *   streamed stay in it (as `consumed`) until the lease ends, because only
 *   the owner can tell when they reached the disk;
 * - an owner's own check counts every lease but not what it consumed
 *   itself (its own written count has those), so held = granted − consumed[owner];
 * - what a lease's exchange wrote is recorded when it ends, in time buckets
 *   per owner, and counts against every other owner's room whose snapshot
 *   started before the bucket ended.
 *
 * Times are the ledger's own clock (milliseconds); callers convert.
 */
export const BUCKET_MS = 250;

interface Lease {
  readonly owner: string;
  granted: number;
  readonly inodes: number;
  consumed: number;
}

export interface BookFigures {
  /** Held against the asking owner's room: every lease, less what the owner consumed itself. */
  readonly reservedBytes: number;
  readonly reservedInodes: number;
  /** What other owners wrote since the ask's `since`. */
  readonly writtenBytes: number;
  readonly writtenInodes: number;
}

/** A request as the book takes it: from an owner, `since` on the book's clock. */
export interface BookAsk extends ReserveRequest {
  readonly owner: string;
}

class VolumeBook {
  readonly leases = new Map<string, Lease>();
  granted = 0;
  inodes = 0;
  readonly consumedBy = new Map<string, number>();
  /**
   * By owner, what its ended exchanges wrote in each bucket, oldest first:
   * an ask reads only the buckets since its snapshot, from the newest back.
   */
  readonly written = new Map<string, WrittenBucket[]>();
}

interface WrittenBucket {
  readonly bucket: number;
  bytes: number;
  inodes: number;
}

export class LeaseBook {
  readonly #volumes = new Map<string, VolumeBook>();

  /** @param keepMs how long written records count: longer than any snapshot is trusted. */
  constructor(private readonly keepMs: number) {}

  /** Check and hold in one step; the figures either way. */
  reserve(id: string, ask: BookAsk, now: number): { granted: boolean } & BookFigures {
    const book = this.#book(ask.volumeKey);
    const figures = this.#figures(book, ask.owner, ask.since, now);
    if (!fits(figures, ask.bytes, ask.inodes, ask.roomBytes, ask.roomInodes)) return { granted: false, ...figures };
    book.leases.set(id, { owner: ask.owner, granted: ask.bytes, inodes: ask.inodes, consumed: 0 });
    book.granted += ask.bytes;
    book.inodes += ask.inodes;
    return { granted: true, ...figures, reservedBytes: figures.reservedBytes + ask.bytes, reservedInodes: figures.reservedInodes + ask.inodes };
  }

  /** The lease's consumed bytes as the owner knows them, then `bytes` more if they fit. */
  grow(id: string, volumeKey: string, consumed: number, ask: Omit<BookAsk, 'volumeKey' | 'inodes' | 'roomInodes'>, now: number): boolean {
    const book = this.#book(volumeKey);
    const lease = book.leases.get(id);
    if (!lease) return false;
    this.#consume(book, lease, consumed);
    const figures = this.#figures(book, ask.owner, ask.since, now);
    if (!fits(figures, ask.bytes, 0, ask.roomBytes, Infinity)) return false;
    lease.granted += ask.bytes;
    book.granted += ask.bytes;
    return true;
  }

  /** Ends a lease; what its exchange wrote counts for the other owners from now. */
  release(id: string, volumeKey: string, written: Written, now: number): void {
    const book = this.#volumes.get(volumeKey);
    const lease = book?.leases.get(id);
    if (!book || !lease) return;
    this.#end(book, id, lease);
    this.#record(book, lease.owner, written, now);
  }

  /** Ends every lease of an owner that is gone; what they streamed counts as written. */
  releaseOwner(owner: string, now: number): void {
    for (const book of this.#volumes.values()) {
      for (const [id, lease] of book.leases) {
        if (lease.owner !== owner) continue;
        this.#end(book, id, lease);
        this.#record(book, owner, { bytes: lease.consumed, inodes: lease.inodes }, now);
      }
    }
  }

  /** What every lease on the volume holds now (granted less consumed). */
  held(volumeKey: string): { bytes: number; inodes: number } {
    const book = this.#volumes.get(volumeKey);
    if (!book) return { bytes: 0, inodes: 0 };
    let consumed = 0;
    for (const c of book.consumedBy.values()) consumed += c;
    return { bytes: book.granted - consumed, inodes: book.inodes };
  }

  #book(volumeKey: string): VolumeBook {
    let book = this.#volumes.get(volumeKey);
    if (!book) this.#volumes.set(volumeKey, (book = new VolumeBook()));
    return book;
  }

  #consume(book: VolumeBook, lease: Lease, consumed: number): void {
    const delta = Math.min(consumed, lease.granted) - lease.consumed;
    if (delta <= 0) return;
    lease.consumed += delta;
    book.consumedBy.set(lease.owner, (book.consumedBy.get(lease.owner) ?? 0) + delta);
  }

  #end(book: VolumeBook, id: string, lease: Lease): void {
    book.leases.delete(id);
    book.granted -= lease.granted;
    book.inodes -= lease.inodes;
    const left = (book.consumedBy.get(lease.owner) ?? 0) - lease.consumed;
    if (left > 0) book.consumedBy.set(lease.owner, left);
    else book.consumedBy.delete(lease.owner);
  }

  #record(book: VolumeBook, owner: string, written: Written, now: number): void {
    if (written.bytes === 0 && written.inodes === 0) return;
    const bucket = Math.floor(now / BUCKET_MS);
    let buckets = book.written.get(owner);
    if (!buckets) book.written.set(owner, (buckets = []));
    const last = buckets[buckets.length - 1];
    // A clock that stepped back files the write in the latest bucket: later counts against more snapshots, the safe side.
    if (last !== undefined && last.bucket >= bucket) {
      last.bytes += written.bytes;
      last.inodes += written.inodes;
    } else {
      buckets.push({ bucket, bytes: written.bytes, inodes: written.inodes });
    }
  }

  #figures(book: VolumeBook, owner: string, since: number | null, now: number): BookFigures {
    let writtenBytes = 0;
    let writtenInodes = 0;
    const oldest = Math.floor((now - this.keepMs) / BUCKET_MS);
    for (const [who, buckets] of book.written) {
      let expired = 0;
      while (expired < buckets.length && buckets[expired]!.bucket < oldest) expired++;
      if (expired === buckets.length) {
        book.written.delete(who);
        continue;
      }
      if (expired > 0) buckets.splice(0, expired);
      if (since === null || who === owner) continue;
      for (let i = buckets.length - 1; i >= 0 && (buckets[i]!.bucket + 1) * BUCKET_MS > since; i--) {
        writtenBytes += buckets[i]!.bytes;
        writtenInodes += buckets[i]!.inodes;
      }
    }
    return { reservedBytes: book.granted - (book.consumedBy.get(owner) ?? 0), reservedInodes: book.inodes, writtenBytes, writtenInodes };
  }
}

function fits(f: BookFigures, bytes: number, inodes: number, roomBytes: number, roomInodes: number): boolean {
  return f.reservedBytes + f.writtenBytes + bytes <= roomBytes && (inodes === 0 || f.reservedInodes + f.writtenInodes + inodes <= roomInodes);
}
