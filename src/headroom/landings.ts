import { overheadSince, type WriteCount } from './write-overhead.js';

/** What a snapshot showed of a volume, as landings compare them. */
export interface LandingBaseline {
  /** totalBytes − availableBytes of the snapshot. */
  readonly usedBytes: number;
  /** Its totalBytes: a volume measured at another size is not compared. */
  readonly totalBytes: number;
  /** Of the gateway's own writes, what the snapshot is taken to show (WrittenMark.bytes). */
  readonly shownBytes: number;
  /** The writes that had ended when it was recorded. */
  readonly writes: WriteCount;
}

/** A snapshot just recorded, and the gateway's figures as it is recorded. */
export interface LandingFigures {
  readonly usedBytes: number;
  readonly totalBytes: number;
  /** Everything the gateway has counted as written or streamed to the volume by now. */
  readonly countedBytes: number;
  /** What every admitted write on the volume holds now, the waiting ones included. */
  readonly reservedBytes: number;
  /** The writes that have ended by now. */
  readonly writes: WriteCount;
}

/** A write whose body another proxy moves, waiting for a snapshot to show it on the volume. */
export interface Landing {
  /** Settles when a snapshot shows the write's bytes landed; never, if none does before `cancel`. */
  readonly landed: Promise<void>;
  /** The write ended otherwise (its proxy said so, its lease ran out): it no longer waits. */
  cancel(): void;
}

interface Waiting {
  readonly bytes: number;
  /** The figures of the last snapshot before the write was admitted: it cannot show any of its bytes. */
  readonly before: LandingBaseline;
  readonly resolve: () => void;
}

/**
 * The writes of one volume that wait to be seen landed, oldest first
 * (docs/decision-endpoint.md#leases-how-an-allowed-write-ends). A snapshot shows them landed when
 * the volume's use grew, since the snapshot before the oldest of them, by
 * more than everything else that can explain growth:
 *
 * - what the gateway itself counted as written or streamed since then,
 *   beyond what that snapshot was taken to show (all of it, though some
 *   may not have reached the disk yet: on the safe side);
 * - what other admitted writes still hold — their bytes may be on the disk
 *   already, and each of them holds its room until it ends;
 * - what the writes that ended since may take beyond their bytes (blocks,
 *   directory entries: WRITE_OVERHEAD each), or anything at all when one
 *   of them wrote an amount the gateway does not know.
 *
 * The growth left is what the waiting writes have stored: the oldest of
 * them whose sizes it covers are taken to be the ones that landed, and
 * their room is given back (their bytes then count as written until the
 * next snapshot, so the same growth is never taken for two writes). Use
 * that shrank (a deletion) only delays this. Growth from writes that did
 * not pass the gateway is taken for theirs: a volume written around the
 * gateway gives rooms back early — which is why only a gateway that sees
 * every write to the volume (one process, its own ledger) waits for
 * landings at all.
 */
export class Landings {
  /** Oldest first (a Set keeps insertion order, and lets a write leave in one step). */
  readonly #waiting = new Set<Waiting>();
  #waitingBytes = 0;

  get size(): number {
    return this.#waiting.size;
  }

  /** A write of `bytes` was admitted after the snapshot that showed `before`. */
  expect(bytes: number, before: LandingBaseline): Landing {
    let resolve!: () => void;
    const landed = new Promise<void>((r) => (resolve = r));
    const waiting: Waiting = { bytes, before, resolve };
    this.#waiting.add(waiting);
    this.#waitingBytes += bytes;
    return { landed, cancel: () => this.#leave(waiting) };
  }

  /**
   * A snapshot was recorded: settles the writes it shows landed, and
   * returns their bytes (which the snapshot shows) and how many they are
   * (they end just after, as writes it shows). The gateway's figures
   * are taken now, not at the snapshot's start, so that a write that ended
   * while it was measured is explained by its count.
   */
  record(figures: LandingFigures): { bytes: number; writes: number } {
    let grown: number | null = null;
    let landed = 0;
    let writes = 0;
    for (const waiting of this.#waiting) {
      if (grown === null) {
        const since = waiting.before;
        if (since.totalBytes !== figures.totalBytes) break;
        const heldByOthers = Math.max(0, figures.reservedBytes - this.#waitingBytes);
        grown = figures.usedBytes - since.usedBytes - (figures.countedBytes - since.shownBytes) - heldByOthers - overheadSince(figures.writes, since.writes);
      }
      if (waiting.bytes > grown) break;
      grown -= waiting.bytes;
      landed += waiting.bytes;
      writes++;
      this.#leave(waiting);
      waiting.resolve();
    }
    return { bytes: landed, writes };
  }

  #leave(waiting: Waiting): void {
    if (this.#waiting.delete(waiting)) this.#waitingBytes -= waiting.bytes;
  }
}
