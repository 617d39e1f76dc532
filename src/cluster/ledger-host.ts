import { LeaseBook } from '../ledger/lease-book.js';
import type { GrowAnswer, Ledger, LedgerStatus, Reservation, ReserveAnswer, ReserveRequest, Written } from '../ledger/ledger.js';
import { GROW, RELEASE, RESERVE, type HeldFigures, type LedgerCall, type LedgerReply } from './messages.js';

/** What goes to the workers once per turn: each owner's answers, in order, and the held figures of the volumes whose holds changed. */
export type Deliver = (replies: ReadonlyMap<string, readonly LedgerReply[]>, held: readonly HeldFigures[]) => void;

/**
 * The group's memory ledger, held by the primary: its workers' calls
 * arrive as messages (ledger-client.ts), several to a message, and are
 * taken one at a time in the order they were made, so a check and its
 * hold never interleave with another call. The book is the lease book
 * every shared ledger keeps; each worker is an owner. The answers, and
 * the held figures that changed, go back once per turn of the event loop.
 * The primary serves no client request; it reads the figures (for
 * /status and /metrics), and holds the writes of plugins that run once for
 * the group as one more owner.
 */
export class LedgerHost implements Ledger {
  readonly immediate = true;
  readonly shared = true;
  readonly #book: LeaseBook;
  readonly #volumes = new Set<string>();
  /** Owners that have left: a call of theirs still in the channel is not taken. */
  readonly #gone = new Set<string>();
  readonly #changed = new Set<string>();
  #replies = new Map<string, LedgerReply[]>();
  #delivering = false;
  #leases = 0;
  readonly #deliver = (): void => {
    this.#delivering = false;
    const held: HeldFigures[] = [];
    for (const key of this.#changed) {
      const { bytes, inodes } = this.#book.held(key);
      held.push([key, bytes, inodes]);
    }
    this.#changed.clear();
    const replies = this.#replies;
    this.#replies = new Map();
    this.deliver(replies, held);
  };

  /**
   * @param keepMs how long what ended exchanges wrote counts for the other workers (longer than a snapshot is trusted)
   * @param deliver given the answers and the held figures that changed, once per turn of the event loop
   */
  constructor(
    keepMs: number,
    private readonly deliver: Deliver,
  ) {
    this.#book = new LeaseBook(keepMs);
  }

  /** One worker's calls, taken in order; their answers go with the next delivery. */
  handle(owner: string, calls: readonly LedgerCall[], now = Date.now()): void {
    if (this.#gone.has(owner) || !Array.isArray(calls)) return;
    let replies = this.#replies.get(owner);
    for (const call of calls) {
      // A call the book cannot take (a worker's bug) must neither throw in the primary nor move the book.
      const reply = wellFormed(call) ? this.#take(owner, call, now) : malformed(call);
      if (reply === null) continue;
      if (replies === undefined) this.#replies.set(owner, (replies = []));
      replies.push(reply);
    }
    this.#due();
  }

  /** A worker died: its leases end at once, what they streamed counting as written for the others. */
  releaseOwner(owner: string, now = Date.now()): void {
    this.#gone.add(owner);
    this.#replies.delete(owner);
    this.#book.releaseOwner(owner, now);
    for (const key of this.#volumes) this.#touched(key);
  }

  /**
   * The primary's own write (a plugin that runs once for the group, as the
   * decision endpoint): held in the same book, the primary an owner like a
   * worker, answered at once.
   */
  reserve(request: ReserveRequest): ReserveAnswer {
    const lease = `${PRIMARY}.${++this.#leases}`;
    const { granted, reservedBytes, reservedInodes, writtenBytes, writtenInodes } = this.reserveFor(PRIMARY, lease, request, Date.now());
    if (granted) return { granted: true, reservation: new HostReservation(this, lease, request) };
    return { granted: false, reservedBytes, reservedInodes, writtenBytes, writtenInodes };
  }

  /** For reservations and workers' calls: the book's check and hold, in one step. */
  reserveFor(owner: string, lease: string, request: ReserveRequest, now: number): ReturnType<LeaseBook['reserve']> {
    this.#touched(request.volumeKey);
    return this.#book.reserve(lease, { owner, ...request }, now);
  }

  /** For reservations and workers' calls: what the lease streamed, then `bytes` more if they fit. */
  growFor(owner: string, lease: string, volumeKey: string, consumed: number, bytes: number, roomBytes: number, since: number | null, now: number): boolean {
    this.#touched(volumeKey);
    return this.#book.grow(lease, volumeKey, consumed, { owner, bytes, roomBytes, since }, now);
  }

  /** For reservations and workers' calls: the lease ends. */
  releaseFor(lease: string, volumeKey: string, written: Written, now: number): void {
    this.#touched(volumeKey);
    this.#book.release(lease, volumeKey, written, now);
  }

  reservedBytes(volumeKey: string): number {
    return this.#book.held(volumeKey).bytes;
  }

  reservedInodes(volumeKey: string): number {
    return this.#book.held(volumeKey).inodes;
  }

  totalReservedBytes(): number {
    let total = 0;
    for (const key of this.#volumes) total += this.#book.held(key).bytes;
    return total;
  }

  totalReservedInodes(): number {
    let total = 0;
    for (const key of this.#volumes) total += this.#book.held(key).inodes;
    return total;
  }

  /** The group's memory ledger: as a memory ledger, it always answers. */
  describe(): LedgerStatus {
    return { backend: 'memory', state: 'process', lastError: null, unavailable: 0 };
  }

  async close(): Promise<void> {}

  /** One call of a worker's; its answer, or null for a call that gets none. */
  #take(owner: string, call: LedgerCall, now: number): LedgerReply | null {
    switch (call[0]) {
      case RESERVE: {
        const [, id, lease, volumeKey, bytes, inodes, roomBytes, roomInodes, since] = call;
        const answer = this.reserveFor(owner, `${owner}.${lease}`, { volumeKey, bytes, inodes, roomBytes, roomInodes, since }, now);
        return answer.granted ? [id, true] : [id, false, answer.reservedBytes, answer.reservedInodes, answer.writtenBytes, answer.writtenInodes];
      }
      case GROW: {
        const [, id, lease, volumeKey, consumed, bytes, roomBytes, since] = call;
        return [id, this.growFor(owner, `${owner}.${lease}`, volumeKey, consumed, bytes, roomBytes, since, now) ? 'held' : 'refused'];
      }
      case RELEASE: {
        const [, lease, volumeKey, bytes, inodes] = call;
        this.releaseFor(`${owner}.${lease}`, volumeKey, { bytes, inodes }, now);
        return null;
      }
    }
  }

  /** The volume's holds changed: its figures go to the workers with the next delivery. */
  #touched(volumeKey: string): void {
    this.#volumes.add(volumeKey);
    this.#changed.add(volumeKey);
    this.#due();
  }

  #due(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    setImmediate(this.#deliver);
  }
}

/** The primary's name in the book, beside its workers' ids. */
const PRIMARY = 'primary';

/** A lease the primary holds for itself, in its own book: every call answered at once. */
// Whole and exact: a count past 2^53 would absorb smaller ones, and the book's sums would no longer come back to 0.
const count = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;
const room = (n: unknown): boolean => typeof n === 'number' && !Number.isNaN(n);
const moment = (n: unknown): boolean => n === null || (typeof n === 'number' && Number.isFinite(n));

/** A call with the shape its op says, every figure one the book can count with. */
function wellFormed(call: unknown): call is LedgerCall {
  if (!Array.isArray(call)) return false;
  const c = call as unknown[];
  switch (c[0]) {
    case RESERVE:
      return c.length === 9 && Number.isSafeInteger(c[1]) && Number.isSafeInteger(c[2]) && typeof c[3] === 'string' && count(c[4]) && count(c[5]) && room(c[6]) && room(c[7]) && moment(c[8]);
    case GROW:
      return c.length === 8 && Number.isSafeInteger(c[1]) && Number.isSafeInteger(c[2]) && typeof c[3] === 'string' && count(c[4]) && count(c[5]) && room(c[6]) && moment(c[7]);
    case RELEASE:
      return c.length === 5 && Number.isSafeInteger(c[1]) && typeof c[2] === 'string' && count(c[3]) && count(c[4]);
    default:
      return false;
  }
}

/** The answer to a call not taken: its waiter, when it has a number, hears it; a release (or what has no number) gets none. */
function malformed(call: unknown): LedgerReply | null {
  if (!Array.isArray(call) || (call[0] !== RESERVE && call[0] !== GROW) || !Number.isSafeInteger(call[1])) return null;
  return [call[1] as number, 'malformed'];
}

class HostReservation implements Reservation {
  #bytes: number;
  #consumed = 0;
  #released = false;

  constructor(
    private readonly host: LedgerHost,
    private readonly lease: string,
    private readonly request: ReserveRequest,
  ) {
    this.#bytes = request.bytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get inodes(): number {
    return this.#released ? 0 : this.request.inodes;
  }

  consume(bytes: number): void {
    const taken = Math.min(bytes, this.#bytes);
    this.#bytes -= taken;
    this.#consumed += taken;
  }

  grow(bytes: number, roomBytes: number, since: number | null): GrowAnswer {
    if (this.#released) return 'refused';
    if (!this.host.growFor(PRIMARY, this.lease, this.request.volumeKey, this.#consumed, bytes, roomBytes, since, Date.now())) return 'refused';
    this.#bytes += bytes;
    return 'held';
  }

  release(written?: Written): void {
    if (this.#released) return;
    this.#released = true;
    this.#bytes = 0;
    this.host.releaseFor(this.lease, this.request.volumeKey, written ?? { bytes: this.#consumed, inodes: 0 }, Date.now());
  }
}
