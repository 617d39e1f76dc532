/**
 * How far a shared ledger's clock is ahead of this process's `Date.now()`,
 * as a lower bound: each sample is the server's time less the local time
 * its answer arrived, and the server read its clock before that. A local
 * time moved by the offset is therefore never later than the server's
 * time of the same moment — a snapshot dated that way counts at least
 * everything written after it. The bound is the largest sample of the
 * current and the previous period, so a local clock that is stepped is
 * followed within two periods.
 */
export class ClockOffset {
  #period = -1;
  #current = -Infinity;
  #previous = -Infinity;

  constructor(private readonly periodMs: number) {}

  sample(serverNow: number, localNow = Date.now()): void {
    const period = Math.floor(localNow / this.periodMs);
    if (period !== this.#period) {
      this.#previous = period === this.#period + 1 ? this.#current : -Infinity;
      this.#current = -Infinity;
      this.#period = period;
    }
    this.#current = Math.max(this.#current, serverNow - localNow);
  }

  /** `local` on the server's clock; 0 (the start of time: everything counts) before any sample. */
  toServer(local: number): number {
    const offset = Math.max(this.#current, this.#previous);
    return offset === -Infinity ? 0 : Math.max(0, local + offset);
  }
}
