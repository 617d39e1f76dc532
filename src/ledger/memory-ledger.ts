import type { Ledger, Reservation } from './ledger.js';

/** Reservations of one gateway process. Everything is synchronous, so a decision and its reservation cannot interleave with another's. */
export class MemoryLedger implements Ledger {
  readonly #reserved = new Map<string, number>();
  #total = 0;

  reserve(volumeKey: string, bytes: number): Reservation {
    return new MemoryReservation(this, volumeKey, bytes);
  }

  reservedBytes(volumeKey: string): number {
    return this.#reserved.get(volumeKey) ?? 0;
  }

  totalReservedBytes(): number {
    return this.#total;
  }

  /** For reservations only: moves the volume's and the total's figures by `delta`. */
  adjust(volumeKey: string, delta: number): void {
    this.#total += delta;
    const now = (this.#reserved.get(volumeKey) ?? 0) + delta;
    if (now === 0) this.#reserved.delete(volumeKey);
    else this.#reserved.set(volumeKey, now);
  }
}

class MemoryReservation implements Reservation {
  #held = 0;
  #released = false;

  constructor(
    private readonly ledger: MemoryLedger,
    private readonly volumeKey: string,
    bytes: number,
  ) {
    this.#hold(bytes);
  }

  get bytes(): number {
    return this.#held;
  }

  consume(bytes: number): void {
    if (!this.#released) this.#hold(-Math.min(bytes, this.#held));
  }

  grow(bytes: number): void {
    if (!this.#released) this.#hold(bytes);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#hold(-this.#held);
  }

  #hold(delta: number): void {
    this.#held += delta;
    this.ledger.adjust(this.volumeKey, delta);
  }
}
