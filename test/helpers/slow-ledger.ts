import type { GrowAnswer, Ledger, LedgerStatus, Reservation, ReserveAnswer, ReserveRequest } from '../../src/ledger/ledger.js';
import { MemoryLedger } from '../../src/ledger/memory-ledger.js';

/**
 * A ledger that answers later, as one over the network does: each answer
 * is worked out (atomically, by a memory ledger) only when it is given,
 * after `delayMs`, or — while `hold()` is in force — when `let()` is called.
 */
export class SlowLedger implements Ledger {
  readonly immediate = false;
  readonly shared = false;
  readonly #inner = new MemoryLedger();
  readonly #delayMs: number;
  #held: Array<() => void> | null = null;
  /** Answers asked for and not yet given. */
  pending = 0;
  /** Growth asks answered so far. */
  growths = 0;

  constructor(delayMs: number) {
    this.#delayMs = delayMs;
  }

  /** Answers from now on wait for `let()`. */
  hold(): void {
    this.#held ??= [];
  }

  /** Gives every held answer and stops holding. */
  let(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const give of held) give();
  }

  reserve(request: ReserveRequest): Promise<ReserveAnswer> {
    return this.#later(() => {
      const answer = this.#inner.reserve(request);
      return answer.granted ? { granted: true, reservation: this.#slow(answer.reservation) } : answer;
    });
  }

  reservedBytes(volumeKey: string): number {
    return this.#inner.reservedBytes(volumeKey);
  }

  reservedInodes(volumeKey: string): number {
    return this.#inner.reservedInodes(volumeKey);
  }

  totalReservedBytes(): number {
    return this.#inner.totalReservedBytes();
  }

  totalReservedInodes(): number {
    return this.#inner.totalReservedInodes();
  }

  describe(): LedgerStatus {
    return this.#inner.describe();
  }

  async close(): Promise<void> {}

  #slow(reservation: Reservation): Reservation {
    return {
      get bytes() {
        return reservation.bytes;
      },
      get inodes() {
        return reservation.inodes;
      },
      consume: (bytes) => reservation.consume(bytes),
      grow: (bytes, roomBytes, since) =>
        this.#later(() => {
          this.growths++;
          return reservation.grow(bytes, roomBytes, since) as GrowAnswer;
        }),
      release: (written) => reservation.release(written),
    };
  }

  #later<T>(work: () => T): Promise<T> {
    this.pending++;
    return new Promise<T>((resolve) => {
      const give = () => {
        this.pending--;
        resolve(work());
      };
      if (this.#held) this.#held.push(give);
      else setTimeout(give, this.#delayMs);
    });
  }
}
