import { LeaseBook } from '../ledger/lease-book.js';
import type { GrowAnswer, Ledger, LedgerStatus, Reservation, ReserveAnswer, ReserveRequest, Written } from '../ledger/ledger.js';
import type { HeldFigures, LedgerCall, LedgerReply } from './messages.js';

/**
 * The group's memory ledger, held by the primary: its workers' calls
 * arrive as messages (ledger-client.ts) and are answered one at a time, so
 * a check and its hold never interleave with another worker's. The book
 * is the lease book every shared ledger keeps; each worker is an owner.
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
  #pushing = false;
  #leases = 0;

  /**
   * @param keepMs how long what ended exchanges wrote counts for the other workers (longer than a snapshot is trusted)
   * @param push given the held figures of the volumes whose holds changed, once per turn of the event loop
   */
  constructor(
    keepMs: number,
    private readonly push: (figures: ReadonlyArray<readonly [string, HeldFigures]>) => void,
  ) {
    this.#book = new LeaseBook(keepMs);
  }

  /** One worker's call; the reply to send back, or null for a call that gets none. */
  handle(owner: string, call: LedgerCall, now = Date.now()): LedgerReply | null {
    if (this.#gone.has(owner)) return null;
    this.#touched(call.volumeKey);
    switch (call.op) {
      case 'reserve': {
        const { granted, ...figures } = this.#book.reserve(call.lease, { owner, ...call }, now);
        return granted ? { call: call.call, granted: true } : { call: call.call, granted: false, ...figures };
      }
      case 'grow': {
        const held = this.#book.grow(call.lease, call.volumeKey, call.consumed, { owner, bytes: call.bytes, roomBytes: call.roomBytes, since: call.since }, now);
        return { call: call.call, grown: held ? 'held' : 'refused' };
      }
      case 'release':
        this.#book.release(call.lease, call.volumeKey, call.written, now);
        return null;
    }
  }

  /** A worker died: its leases end at once, what they streamed counting as written for the others. */
  releaseOwner(owner: string, now = Date.now()): void {
    this.#gone.add(owner);
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
    const answer = this.handle(PRIMARY, { op: 'reserve', call: 0, lease, ...request });
    if (answer === null || !('granted' in answer)) return { granted: false, unavailable: 'the group ledger did not answer' };
    if (answer.granted) return { granted: true, reservation: new HostReservation(this, lease, request) };
    const { reservedBytes, reservedInodes, writtenBytes, writtenInodes } = answer;
    return { granted: false, reservedBytes, reservedInodes, writtenBytes, writtenInodes };
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

  /** The volume's holds changed: its figures go to the workers (coalesced, once per turn). */
  #touched(volumeKey: string): void {
    this.#volumes.add(volumeKey);
    this.#changed.add(volumeKey);
    if (this.#pushing) return;
    this.#pushing = true;
    setImmediate(() => {
      this.#pushing = false;
      const figures = [...this.#changed].map((key) => [key, this.#book.held(key)] as const);
      this.#changed.clear();
      this.push(figures);
    });
  }
}

/** The primary's name in the book, beside its workers' ids. */
const PRIMARY = 'primary';

/** A lease the primary holds for itself, in its own book: every call answered at once. */
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
    const reply = this.host.handle(PRIMARY, { op: 'grow', call: 0, lease: this.lease, volumeKey: this.request.volumeKey, consumed: this.#consumed, bytes, roomBytes, since });
    const grown = reply !== null && 'grown' in reply ? reply.grown : 'refused';
    if (grown === 'held') this.#bytes += bytes;
    return grown;
  }

  release(written?: Written): void {
    if (this.#released) return;
    this.#released = true;
    this.#bytes = 0;
    this.host.handle(PRIMARY, { op: 'release', lease: this.lease, volumeKey: this.request.volumeKey, written: written ?? { bytes: this.#consumed, inodes: 0 } });
  }
}
