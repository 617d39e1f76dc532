import type { GrowAnswer, Ledger, LedgerStatus, Reservation, ReserveAnswer, ReserveRequest, Written } from '../ledger/ledger.js';
import type { HeldFigures, LedgerCall, LedgerReply, ToPrimary } from './messages.js';

type Send = (message: ToPrimary) => boolean;

/**
 * A worker's side of the group's memory ledger (ledger-host.ts holds it in
 * the primary): every call is a message, and the answer comes back by its
 * number. The held figures a decision reads first are those the primary
 * last pushed; the primary's own check, one call at a time, is the one
 * that decides.
 */
export class LedgerClient implements Ledger {
  readonly immediate = false;
  readonly shared = true;
  readonly #held = new Map<string, HeldFigures>();
  readonly #waiting = new Map<number, (reply: LedgerReply | null) => void>();
  #calls = 0;
  #leases = 0;

  /**
   * @param owner this worker's name in the ledger (unique over the group's life)
   * @param send posts a message to the primary; false when the channel is closed
   */
  constructor(
    readonly owner: string,
    private readonly send: Send,
  ) {}

  reserve(request: ReserveRequest): Promise<ReserveAnswer> {
    const lease = `${this.owner}.${++this.#leases}`;
    return this.#ask((call) => ({ op: 'reserve', call, lease, ...request })).then((reply): ReserveAnswer => {
      if (reply === null) return { granted: false, unavailable: 'the primary process does not answer' };
      if ('granted' in reply && reply.granted) return { granted: true, reservation: new ClientReservation(this, lease, request) };
      if ('granted' in reply) return reply;
      return { granted: false, unavailable: 'the primary answered something else' };
    });
  }

  /** For reservations: a call that gets an answer (null when the primary cannot be asked). */
  ask(make: (call: number) => LedgerCall): Promise<LedgerReply | null> {
    return this.#ask(make);
  }

  /** For reservations: a call that gets none. */
  tell(call: LedgerCall): void {
    this.#post(call);
  }

  /** The primary's answer to a call. */
  answered(reply: LedgerReply): void {
    const resolve = this.#waiting.get(reply.call);
    this.#waiting.delete(reply.call);
    resolve?.(reply);
  }

  /** Held figures the primary pushed. */
  figures(list: ReadonlyArray<readonly [string, HeldFigures]>): void {
    for (const [key, figures] of list) {
      if (figures.bytes === 0 && figures.inodes === 0) this.#held.delete(key);
      else this.#held.set(key, figures);
    }
  }

  /** The channel closed: every call waiting gets "unavailable". */
  disconnected(): void {
    for (const resolve of this.#waiting.values()) resolve(null);
    this.#waiting.clear();
  }

  reservedBytes(volumeKey: string): number {
    return this.#held.get(volumeKey)?.bytes ?? 0;
  }

  reservedInodes(volumeKey: string): number {
    return this.#held.get(volumeKey)?.inodes ?? 0;
  }

  totalReservedBytes(): number {
    let total = 0;
    for (const figures of this.#held.values()) total += figures.bytes;
    return total;
  }

  totalReservedInodes(): number {
    let total = 0;
    for (const figures of this.#held.values()) total += figures.inodes;
    return total;
  }

  /** The group's memory ledger: as a memory ledger, it always answers. */
  describe(): LedgerStatus {
    return { backend: 'memory', state: 'process', lastError: null, unavailable: 0 };
  }

  async close(): Promise<void> {
    this.disconnected();
  }

  #ask(make: (call: number) => LedgerCall): Promise<LedgerReply | null> {
    const call = ++this.#calls;
    return new Promise((resolve) => {
      this.#waiting.set(call, resolve);
      if (!this.#post(make(call))) {
        this.#waiting.delete(call);
        resolve(null);
      }
    });
  }

  #post(call: LedgerCall): boolean {
    try {
      return this.send({ type: 'ledger', ...call });
    } catch {
      return false; // the channel closed under us
    }
  }
}

/** A lease in the primary's book, and this worker's own count of what it still holds. */
class ClientReservation implements Reservation {
  #bytes: number;
  #inodes: number;
  /** Bytes of it streamed to the origin; the book learns them with the next growth and at the end. */
  #consumed = 0;
  #released = false;

  constructor(
    private readonly ledger: LedgerClient,
    private readonly lease: string,
    private readonly request: ReserveRequest,
  ) {
    this.#bytes = request.bytes;
    this.#inodes = request.inodes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get inodes(): number {
    return this.#inodes;
  }

  consume(bytes: number): void {
    const taken = Math.min(bytes, this.#bytes);
    this.#bytes -= taken;
    this.#consumed += taken;
  }

  grow(bytes: number, roomBytes: number, since: number | null): Promise<GrowAnswer> {
    if (this.#released) return Promise.resolve('refused');
    const { volumeKey } = this.request;
    const consumed = this.#consumed;
    return this.ledger.ask((call) => ({ op: 'grow', call, lease: this.lease, volumeKey, consumed, bytes, roomBytes, since })).then((reply): GrowAnswer => {
      const grown = reply === null ? 'unavailable' : 'grown' in reply ? reply.grown : 'unavailable';
      if (grown === 'held' && !this.#released) this.#bytes += bytes;
      return grown;
    });
  }

  release(written?: Written): void {
    if (this.#released) return;
    this.#released = true;
    this.#bytes = 0;
    this.#inodes = 0;
    // Without word of what was written, what streamed counts: on the safe side.
    this.ledger.tell({ op: 'release', lease: this.lease, volumeKey: this.request.volumeKey, written: written ?? { bytes: this.#consumed, inodes: 0 } });
  }
}
