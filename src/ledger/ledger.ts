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
  /** Some of the held bytes were streamed to the origin: no longer reserved by this process's count. */
  consume(bytes: number): void;
  /**
   * Hold `bytes` more (a body of unknown length outgrew what it held), in
   * one step with the check that the volume's holds then stay within
   * `roomBytes` (see ReserveRequest): 'held', or 'refused' with nothing
   * held, or 'unavailable' when a shared ledger could not be asked.
   */
  grow(bytes: number, roomBytes: number, since: number | null): GrowAnswer | Promise<GrowAnswer>;
  /**
   * Gives back what is left; safe to call more than once. `written` is what
   * the exchange stored on the volume: for other processes sharing the
   * ledger it counts as written since any snapshot that started before now.
   */
  release(written?: Written): void;
}

export type GrowAnswer = 'held' | 'refused' | 'unavailable';

/** What an exchange stored on a volume. */
export interface Written {
  readonly bytes: number;
  readonly inodes: number;
}

/** What a write asks of the ledger. */
export interface ReserveRequest {
  readonly volumeKey: string;
  readonly bytes: number;
  readonly inodes: number;
  /**
   * The most the volume's reserved bytes may come to with this request:
   * the room the caller's snapshot allows for holds (available − reserve −
   * what this process wrote since the snapshot). Infinity where no snapshot bounds it.
   */
  readonly roomBytes: number;
  /** The same for inodes (free − minFreeInodes − taken since); Infinity where not reported. */
  readonly roomInodes: number;
  /**
   * `Date.now()` when the snapshot behind the room started measuring. A
   * shared ledger counts what other processes wrote after it against the
   * room; null where no snapshot bounds it.
   */
  readonly since: number | null;
}

/** A reservation, the ledger's refusal with the figures it refused on, or word that a shared ledger could not be asked. */
export type ReserveAnswer =
  | { readonly granted: true; readonly reservation: Reservation }
  | {
      readonly granted: false;
      readonly reservedBytes: number;
      readonly reservedInodes: number;
      /** What other processes sharing the ledger wrote since the request's snapshot (0 for a ledger of one process). */
      readonly writtenBytes: number;
      readonly writtenInodes: number;
    }
  | { readonly granted: false; readonly unavailable: string };

/**
 * Reservations of admitted writes, shared by every exchange that writes to
 * a volume. Checking a request against the room and holding it is one
 * atomic step, so that two writes can never both take the last room: a
 * ledger in this process answers at once, one over the network later.
 */
export interface Ledger {
  /** True when no answer is ever a promise: the body then never waits on the ledger. */
  readonly immediate: boolean;
  /**
   * True when other processes hold reservations in it too. Its own check
   * then counts what they hold and wrote; what this process streamed while
   * an answer was pending is still in the reservation the ledger holds for it.
   */
  readonly shared: boolean;
  reserve(request: ReserveRequest): ReserveAnswer | Promise<ReserveAnswer>;
  /** Bytes held on the volume, as last known (a shared ledger's figure may lag its own check). */
  reservedBytes(volumeKey: string): number;
  reservedInodes(volumeKey: string): number;
  /** Reserved bytes over every volume (0 when nothing is in flight). */
  totalReservedBytes(): number;
  /** Reserved inodes over every volume (0 when nothing is in flight). */
  totalReservedInodes(): number;
  /** Where reservations are kept and whether that place answers, for /status, /readyz and metrics. */
  describe(): LedgerStatus;
  /** Stops whatever the ledger runs in the background (connections, renewals); reservations still held are given up. */
  close(): Promise<void>;
}

/** A ledger as /status shows it (docs/ledger.md). */
export interface LedgerStatus {
  readonly backend: 'memory' | 'redis';
  /** `process`: a memory ledger; `shared`: Redis answers; `local`: judged by this gateway alone; `unavailable`: writes refused. */
  readonly state: 'process' | 'shared' | 'local' | 'unavailable';
  /** Why the shared ledger last failed to answer; null while it answers. */
  readonly lastError: string | null;
  /** Times writes fell to ledger.onUnavailable since the gateway started. */
  readonly unavailable: number;
}
