import type { GrowAnswer, Ledger, LedgerStatus, Reservation, ReserveAnswer, ReserveRequest } from './ledger.js';

/** Reservations of one gateway process. Every answer is synchronous, so a check and its reservation cannot interleave with another's. */
export class MemoryLedger implements Ledger {
  readonly immediate = true;
  readonly shared = false;
  readonly #bytes = new Tally();
  readonly #inodes = new Tally();

  reserve({ volumeKey, bytes, inodes, roomBytes, roomInodes }: ReserveRequest): ReserveAnswer {
    const reservedBytes = this.#bytes.of(volumeKey);
    const reservedInodes = this.#inodes.of(volumeKey);
    if (reservedBytes + bytes > roomBytes || (inodes > 0 && reservedInodes + inodes > roomInodes)) return { granted: false, reservedBytes, reservedInodes, writtenBytes: 0, writtenInodes: 0 };
    return { granted: true, reservation: new MemoryReservation(this, volumeKey, bytes, inodes) };
  }

  reservedBytes(volumeKey: string): number {
    return this.#bytes.of(volumeKey);
  }

  reservedInodes(volumeKey: string): number {
    return this.#inodes.of(volumeKey);
  }

  totalReservedBytes(): number {
    return this.#bytes.total;
  }

  totalReservedInodes(): number {
    return this.#inodes.total;
  }

  describe(): LedgerStatus {
    return { backend: 'memory', state: 'process', lastError: null, unavailable: 0 };
  }

  async close(): Promise<void> {}

  /** For reservations only: moves the volume's and the total's figures by the deltas. */
  adjust(volumeKey: string, bytes: number, inodes: number): void {
    if (bytes !== 0) this.#bytes.add(volumeKey, bytes);
    if (inodes !== 0) this.#inodes.add(volumeKey, inodes);
  }
}

/** Amounts per volume and their sum; a volume at 0 holds no entry. */
class Tally {
  readonly #byVolume = new Map<string, number>();
  total = 0;

  of(volumeKey: string): number {
    return this.#byVolume.get(volumeKey) ?? 0;
  }

  add(volumeKey: string, delta: number): void {
    this.total += delta;
    const now = this.of(volumeKey) + delta;
    if (now === 0) this.#byVolume.delete(volumeKey);
    else this.#byVolume.set(volumeKey, now);
  }
}

class MemoryReservation implements Reservation {
  #bytes = 0;
  #inodes: number;
  #released = false;

  constructor(
    private readonly ledger: MemoryLedger,
    private readonly volumeKey: string,
    bytes: number,
    inodes: number,
  ) {
    this.#inodes = inodes;
    this.#bytes = bytes;
    ledger.adjust(volumeKey, bytes, inodes);
  }

  get bytes(): number {
    return this.#bytes;
  }

  get inodes(): number {
    return this.#inodes;
  }

  consume(bytes: number): void {
    if (!this.#released) this.#hold(-Math.min(bytes, this.#bytes));
  }

  grow(bytes: number, roomBytes: number): GrowAnswer {
    if (this.#released || this.ledger.reservedBytes(this.volumeKey) + bytes > roomBytes) return 'refused';
    this.#hold(bytes);
    return 'held';
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.ledger.adjust(this.volumeKey, -this.#bytes, -this.#inodes);
    this.#bytes = 0;
    this.#inodes = 0;
  }

  #hold(delta: number): void {
    this.#bytes += delta;
    this.ledger.adjust(this.volumeKey, delta, 0);
  }
}
