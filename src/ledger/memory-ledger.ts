import type { Ledger, Reservation } from './ledger.js';

/** Reservations of one gateway process. Everything is synchronous, so a decision and its reservation cannot interleave with another's. */
export class MemoryLedger implements Ledger {
  readonly #reserved = new Map<string, number>();
  #total = 0;

  reserve(volumeKey: string, bytes: number): Reservation {
    let held = 0;
    let released = false;
    const adjust = (delta: number): void => {
      held += delta;
      this.#total += delta;
      const now = (this.#reserved.get(volumeKey) ?? 0) + delta;
      if (now === 0) this.#reserved.delete(volumeKey);
      else this.#reserved.set(volumeKey, now);
    };
    adjust(bytes);
    return {
      get bytes() {
        return held;
      },
      consume: (n) => {
        if (!released) adjust(-Math.min(n, held));
      },
      grow: (n) => {
        if (!released) adjust(n);
      },
      release: () => {
        if (released) return;
        released = true;
        adjust(-held);
      },
    };
  }

  reservedBytes(volumeKey: string): number {
    return this.#reserved.get(volumeKey) ?? 0;
  }

  totalReservedBytes(): number {
    return this.#total;
  }
}
