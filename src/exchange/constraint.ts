import type { Landing } from '../headroom/landings.js';
import type { Problem } from '../http/problem.js';
import type { Exchange } from './exchange.js';

/**
 * What a constraint holds on one admitted exchange until it ends: a
 * reservation, a quota's share. Each method is called at most once per
 * event — once per body chunk, once for the origin's status — and `end`
 * exactly once, however the exchange ends (answered, refused by a later
 * constraint, aborted, reset, timed out). Settled by `Exchange.end`.
 */
export interface Hold {
  /**
   * A body chunk of `bytes` is about to go to the origin. The hold may stop
   * the upload (`exchange.cut`) before it goes; a promise (only from a hold
   * with `mayPause`) keeps the body paused until it settles.
   */
  chunk?(bytes: number): void | Promise<void>;
  /** The origin's response started with `status`. */
  originStatus?(status: number): void;
  /** The exchange is over: give back what is held. */
  end(): void;
  /**
   * For a write whose body another proxy moves (a described request):
   * waits for a snapshot to show its bytes on the volume. Null where no
   * snapshot can tell; asked at most once.
   */
  landing?(): Landing | null;
  /** Its `chunk` may answer later: the body then waits in a stream of its own rather than flowing straight. */
  readonly mayPause?: boolean;
}

/** A constraint's word on an exchange: a refusal, a hold to keep until the end, or nothing to keep. */
export type Admission = Problem | Hold | undefined;

/**
 * One rule of admission (the storage guard; a tenant's quota). Constraints
 * run in order before anything goes to the origin; the first refusal is
 * the answer, and the holds of those before it are settled at the end.
 */
export interface Constraint {
  /** For logs and traces. */
  readonly name: string;
  admit(exchange: Exchange): Admission | Promise<Admission>;
  /**
   * The room this constraint judges the exchange's writes against, as a
   * client is shown it (RFC 4331 quota properties in PROPFIND answers):
   * null when it has none for it, or no fresh figures. A room guard's
   * constraint shows what its plugin says (a tenant's quota).
   */
  quota?(exchange: Exchange): QuotaShown | null;
}

/** Room as a client is shown it. */
export interface QuotaShown {
  readonly availableBytes: number;
  readonly usedBytes: number;
}

export const isRefusal = (admission: Problem | Hold): admission is Problem => 'status' in admission;
