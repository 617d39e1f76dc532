import type { GrowAnswer, Ledger, LedgerStatus, Reservation, ReserveAnswer, ReserveRequest, Written } from '../ledger/ledger.js';
import { GROW, RELEASE, RESERVE, type HeldFigures, type LedgerCall, type LedgerReply, type ToPrimary } from './messages.js';

/** Posts a message to the primary; false when the channel is closed and nothing was sent. */
type Send = (message: ToPrimary) => boolean;

/**
 * A worker's side of the group's memory ledger (ledger-host.ts holds it in
 * the primary): every call is a message, and the answer comes back by its
 * number. The calls of one turn of the event loop go in one message, in
 * the order they were made, and the primary takes them in that order. The
 * held figures a decision reads first are those the primary last pushed;
 * the primary's own check, one call at a time, is the one that decides.
 */
export class LedgerClient implements Ledger {
  readonly immediate = false;
  readonly shared = true;
  readonly #held = new Map<string, { bytes: number; inodes: number }>();
  readonly #waiting = new Map<number, (reply: LedgerReply | null) => void>();
  /** This turn's calls, not sent yet. */
  #outbox: LedgerCall[] = [];
  /** Resolvers of the calls in the outbox that wait for an answer, in case the send fails. */
  #unsent: number[] = [];
  #calls = 0;
  #leases = 0;
  readonly #flush = (): void => this.flush();

  /**
   * @param owner this worker's name in the ledger (unique over the group's life)
   * @param send posts a message to the primary
   */
  constructor(
    readonly owner: string,
    private readonly send: Send,
  ) {}

  reserve(request: ReserveRequest): Promise<ReserveAnswer> {
    const lease = ++this.#leases;
    const { volumeKey, bytes, inodes, roomBytes, roomInodes, since } = request;
    return this.ask((call) => [RESERVE, call, lease, volumeKey, bytes, inodes, roomBytes, roomInodes, since]).then((reply): ReserveAnswer => {
      if (reply === null) return { granted: false, unavailable: 'the primary process does not answer' };
      if (reply[1] === true) return { granted: true, reservation: new ClientReservation(this, lease, request) };
      if (reply[1] === false) return { granted: false, reservedBytes: reply[2], reservedInodes: reply[3], writtenBytes: reply[4], writtenInodes: reply[5] };
      return { granted: false, unavailable: 'the primary answered something else' };
    });
  }

  /** For reservations: a call that gets an answer (null when the primary cannot be asked). */
  ask(make: (call: number) => LedgerCall): Promise<LedgerReply | null> {
    const call = ++this.#calls;
    return new Promise((resolve) => {
      this.#waiting.set(call, resolve);
      this.#unsent.push(call);
      this.#queue(make(call));
    });
  }

  /** For reservations: a call that gets none. */
  tell(call: LedgerCall): void {
    this.#queue(call);
  }

  /** The primary's message: the held figures first, then the answers, which may read them. */
  received(replies: readonly LedgerReply[], held: readonly HeldFigures[]): void {
    for (const [key, bytes, inodes] of held) {
      if (bytes === 0 && inodes === 0) this.#held.delete(key);
      else this.#held.set(key, { bytes, inodes });
    }
    for (const reply of replies) {
      const resolve = this.#waiting.get(reply[0]);
      this.#waiting.delete(reply[0]);
      resolve?.(reply);
    }
  }

  /** Sends this turn's calls now (they go by themselves at the end of the turn). */
  flush(): void {
    if (this.#outbox.length === 0) return;
    const calls = this.#outbox;
    const unsent = this.#unsent;
    this.#outbox = [];
    this.#unsent = [];
    let sent: boolean;
    try {
      sent = this.send({ type: 'ledger', calls });
    } catch {
      sent = false; // the channel closed under us
    }
    // Nothing reached the primary: the calls that wait for an answer get "unavailable" (their
    // releases are the primary's to make when it sees this worker go, as for a worker that died).
    if (!sent) for (const call of unsent) this.#fail(call);
  }

  /** The channel closed: every call waiting gets "unavailable". */
  disconnected(): void {
    this.#outbox = [];
    this.#unsent = [];
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

  /** What was called last is sent; what still waits for an answer gets "unavailable". */
  async close(): Promise<void> {
    this.flush();
    this.disconnected();
  }

  #queue(call: LedgerCall): void {
    if (this.#outbox.push(call) === 1) setImmediate(this.#flush);
  }

  #fail(call: number): void {
    const resolve = this.#waiting.get(call);
    this.#waiting.delete(call);
    resolve?.(null);
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
    private readonly lease: number,
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
    return this.ledger.ask((call) => [GROW, call, this.lease, volumeKey, consumed, bytes, roomBytes, since]).then((reply): GrowAnswer => {
      const grown = reply === null ? 'unavailable' : reply[1] === 'held' || reply[1] === 'refused' ? reply[1] : 'unavailable';
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
    this.ledger.tell([RELEASE, this.lease, this.request.volumeKey, written?.bytes ?? this.#consumed, written?.inodes ?? 0]);
  }
}
