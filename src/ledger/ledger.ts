/**
 * Room promised to admitted writes that they have not used yet: bytes, and
 * the inode a creating write may take. The admission decision subtracts it
 * from what a volume has; the exchange's end gives back whatever is left.
 */
export interface Reservation {
  /** Bytes still held. */
  readonly bytes: number;
  /** Inodes still held. */
  readonly inodes: number;
  /** Some of the held bytes were streamed to the origin: no longer reserved. */
  consume(bytes: number): void;
  /** Hold more (a body of unknown length outgrew what was held). */
  grow(bytes: number): void;
  /** Gives back what is left; safe to call more than once. */
  release(): void;
}

export interface Ledger {
  reserve(volumeKey: string, bytes: number, inodes?: number): Reservation;
  reservedBytes(volumeKey: string): number;
  reservedInodes(volumeKey: string): number;
  /** Reserved bytes over every volume (0 when nothing is in flight). */
  totalReservedBytes(): number;
  /** Reserved inodes over every volume (0 when nothing is in flight). */
  totalReservedInodes(): number;
}
