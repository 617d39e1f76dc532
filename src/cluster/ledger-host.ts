import { LeaseBook } from '../ledger/lease-book.js';
import type { Ledger, LedgerStatus, ReserveAnswer } from '../ledger/ledger.js';
import type { HeldFigures, LedgerCall, LedgerReply } from './messages.js';

/**
 * The group's memory ledger, held by the primary: its workers' calls
 * arrive as messages (ledger-client.ts) and are answered one at a time, so
 * a check and its hold never interleave with another worker's. The book
 * is the lease book every shared ledger keeps; each worker is an owner.
 * The primary itself serves no request: it only reads the figures (for
 * /status and /metrics).
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

  reserve(): ReserveAnswer {
    return { granted: false, unavailable: 'the primary of a group serves no request: its workers ask it over IPC' };
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
