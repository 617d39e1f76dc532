/**
 * Room promised to admitted writes that they have not used yet: bytes, and
 * the inode a creating write may take. The admission decision counts it
 * against what a volume has; the exchange's end gives back whatever is left.
 */
export interface Reservation {
  /** Bytes still held. */
  readonly bytes: number;
  /** Inodes still held. */
  readonly inodes: number;
  /** Some of the held bytes were streamed to the origin: no longer reserved. */
  consume(bytes: number): void;
  /**
   * Hold `bytes` more (a body of unknown length outgrew what it held), in
   * one step with the check that the volume's holds then stay within
   * `roomBytes`: true when held, false (nothing held) when they would not.
   */
  grow(bytes: number, roomBytes: number): boolean | Promise<boolean>;
  /** Gives back what is left; safe to call more than once. */
  release(): void;
}

/** What a write asks of the ledger. */
export interface ReserveRequest {
  readonly volumeKey: string;
  readonly bytes: number;
  readonly inodes: number;
  /**
   * The most the volume's reserved bytes may come to with this request:
   * the room the caller's snapshot allows for holds (available − reserve −
   * written since the snapshot). Infinity where no snapshot bounds it.
   */
  readonly roomBytes: number;
  /** The same for inodes (free − minFreeInodes − taken since); Infinity where not reported. */
  readonly roomInodes: number;
}

/** A reservation, or the ledger's refusal with the figures it refused on. */
export type ReserveAnswer =
  | { readonly granted: true; readonly reservation: Reservation }
  | { readonly granted: false; readonly reservedBytes: number; readonly reservedInodes: number };

/**
 * Reservations of admitted writes, shared by every exchange that writes to
 * a volume. Checking a request against the room and holding it is one
 * atomic step, so that two writes can never both take the last room: a
 * ledger in this process answers at once, one over the network later.
 */
export interface Ledger {
  /** True when no answer is ever a promise: the body then never waits on the ledger. */
  readonly immediate: boolean;
  reserve(request: ReserveRequest): ReserveAnswer | Promise<ReserveAnswer>;
  reservedBytes(volumeKey: string): number;
  reservedInodes(volumeKey: string): number;
  /** Reserved bytes over every volume (0 when nothing is in flight). */
  totalReservedBytes(): number;
  /** Reserved inodes over every volume (0 when nothing is in flight). */
  totalReservedInodes(): number;
}
