/**
 * Room promised to admitted uploads, held until their exchange ends. The
 * admission decision subtracts it from what a volume has.
 */
export interface Reservation {
  /** Bytes still held. */
  readonly bytes: number;
  /** Hold more (a body of unknown length outgrew what was held). */
  grow(bytes: number): void;
  /** Gives it all back; safe to call more than once. */
  release(): void;
}

export interface Ledger {
  reserve(volumeKey: string, bytes: number): Reservation;
  reservedBytes(volumeKey: string): number;
  /** Reserved bytes over every volume (0 when nothing is in flight). */
  totalReservedBytes(): number;
}
