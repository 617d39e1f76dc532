import type { Amount, PolicyConfig } from '../config/types.js';
import type { VolumeSnapshot } from '../headroom/snapshot.js';

/** What the admission decision needs to know about a write. */
export interface WriteFacts {
  /** The body's declared size; null when unknown (chunked, no size header). */
  readonly declaredBytes: number | null;
  /** Inodes the write may take: 1 for one that may create a file or collection, more for a collection's COPY. */
  readonly inodes: number;
}

/** A volume's state as the decision sees it; null when no source reports it. */
export interface VolumeView {
  readonly snapshot: VolumeSnapshot | null;
  readonly flooded: boolean;
  readonly markedFull: boolean;
  readonly reservedBytes: number;
  readonly writtenSinceSnapshot: number;
  /** Inodes promised to creating writes in flight. */
  readonly reservedInodes: number;
  /** Inodes taken by writes that ended after the snapshot's measurement started. */
  readonly inodesSinceSnapshot: number;
}

/** `headroom.reason` values (docs/telemetry.md) the core decision gives. */
export type Reason = 'fits' | 'insufficient_storage' | 'too_large' | 'flood_stage' | 'inodes' | 'stale' | 'ledger_unavailable';

/** The figures behind a decision, for the answer's body and the trace. */
export interface Figures {
  readonly requestedBytes: number | null;
  readonly totalBytes: number | null;
  readonly availableBytes: number | null;
  /** totalBytes − reserve: the most a write could ever get. */
  readonly capacityBytes: number | null;
  /** What a write can get now (may be negative when overcommitted by the disk itself). */
  readonly usableBytes: number | null;
  readonly reservedBytes: number;
  /** Free inodes as measured, less those promised or taken since (null when not reported). */
  readonly freeInodes: number | null;
  readonly snapshotAgeMs: number | null;
}

export type Decision =
  | { readonly verdict: 'admit'; readonly reason: 'fits'; readonly reserveBytes: number; readonly figures: Figures }
  | { readonly verdict: 'admit_unknown'; readonly reason: 'stale'; readonly reserveBytes: number; readonly figures: Figures }
  | { readonly verdict: 'reject'; readonly status: 413 | 503 | 507; readonly reason: Reason; readonly figures: Figures };

export function reserveOf(amount: Amount, totalBytes: number): number {
  return 'bytes' in amount ? amount.bytes : Math.ceil(amount.share * totalBytes);
}

/** usable(V) = available − reserve − reserved − written since the snapshot (docs/admission.md). */
export function usableBytes(snapshot: VolumeSnapshot, view: Pick<VolumeView, 'reservedBytes' | 'writtenSinceSnapshot'>, policy: Pick<PolicyConfig, 'reserve'>): number {
  return snapshot.availableBytes - reserveOf(policy.reserve, snapshot.totalBytes) - view.reservedBytes - view.writtenSinceSnapshot;
}

function freeInodes(snapshot: VolumeSnapshot | null, view: VolumeView | null): number | null {
  if (snapshot === null || snapshot.freeInodes === null || view === null) return snapshot?.freeInodes ?? null;
  return snapshot.freeInodes - view.reservedInodes - view.inodesSinceSnapshot;
}

/** A fresh snapshot's figures, as a decision reports them. */
function figuresOf(requested: number | null, view: VolumeView | null, policy: PolicyConfig, now: number): { figures: Figures; fresh: boolean } {
  const snapshot = view?.snapshot ?? null;
  const age = snapshot ? Math.max(0, now - snapshot.takenAt) : null;
  const reserve = snapshot ? reserveOf(policy.reserve, snapshot.totalBytes) : null;
  const figures: Figures = {
    requestedBytes: requested,
    totalBytes: snapshot?.totalBytes ?? null,
    availableBytes: snapshot?.availableBytes ?? null,
    capacityBytes: snapshot ? snapshot.totalBytes - reserve! : null,
    usableBytes: snapshot && view ? usableBytes(snapshot, view, policy) : null,
    reservedBytes: view?.reservedBytes ?? 0,
    freeInodes: freeInodes(snapshot, view),
    snapshotAgeMs: age,
  };
  return { figures, fresh: snapshot !== null && age! <= policy.staleAfter };
}

/**
 * What a body of unknown length holds next: a stretch of what is usable,
 * at most unknownLength and at most maxUploadShare of it, so that no one
 * upload (a slow one, say) holds all of a volume's room while others wait.
 */
export function stretchOf(usable: number, policy: Pick<PolicyConfig, 'unknownLength' | 'maxUploadShare'>): number {
  return Math.max(0, Math.min(policy.unknownLength, Math.floor(policy.maxUploadShare * usable)));
}

/**
 * The admission decision for one write (docs/admission.md), every rule in order:
 *
 * 1. declared size > maxBodySize (when set)               → 413 too_large
 * 2. declared size > capacity (fresh snapshot)            → 413 too_large
 * 3. volume in flood stage (kept while data is stale)     → 507 flood_stage
 * 4. the origin answered 507 since the last snapshot      → 507 insufficient_storage
 * 5. no snapshot, or older than staleAfter                → onUnknown: admit_unknown | 503 stale
 * 6. a creating write would leave fewer than minFreeInodes
 *    free (counting inodes reserved and taken since)       → 507 inodes
 * 7. declared size > usable (unknown size: no room left)  → 507 insufficient_storage
 * 8. otherwise                                            → admit, reserving the declared size
 *    (unknown size: a first stretch, see stretchOf; it grows as the body streams)
 */
export function decide(facts: WriteFacts, view: VolumeView | null, policy: PolicyConfig, now: number): Decision {
  const requested = facts.declaredBytes;
  const { figures, fresh } = figuresOf(requested, view, policy, now);
  const usable = figures.usableBytes;
  const reject = (status: 413 | 503 | 507, reason: Reason): Decision => ({ verdict: 'reject', status, reason, figures });

  if (requested !== null && policy.maxBodySize > 0 && requested > policy.maxBodySize) return reject(413, 'too_large');
  if (fresh && requested !== null && requested > figures.capacityBytes!) return reject(413, 'too_large');
  if (view?.flooded) return reject(507, 'flood_stage');
  if (view?.markedFull) return reject(507, 'insufficient_storage');
  if (!fresh) {
    if (policy.onUnknown === 'reject') return reject(503, 'stale');
    return { verdict: 'admit_unknown', reason: 'stale', reserveBytes: requested ?? policy.unknownLength, figures };
  }
  if (facts.inodes > 0 && figures.freeInodes !== null && figures.freeInodes - facts.inodes < policy.minFreeInodes) return reject(507, 'inodes');
  if (requested === null ? usable! <= 0 : requested > usable!) return reject(507, 'insufficient_storage');
  return { verdict: 'admit', reason: 'fits', reserveBytes: requested ?? stretchOf(usable!, policy), figures };
}

/**
 * A body of unknown length whose next chunk is more than it holds (`held`,
 * counted in the view's reserved bytes): may the chunk go out, and what
 * does it hold after it? The door's rules for the room it needs beyond
 * what it holds, in order:
 *
 * 1. volume in flood stage                                → 507 flood_stage
 * 2. the origin answered 507 since the last snapshot      → 507 insufficient_storage
 * 3. no snapshot, or older than staleAfter                → admit_unknown, holding nothing more
 *    (the upload was admitted; there is nothing to hold it against)
 * 4. chunk > usable + held                                → 507 insufficient_storage
 * 5. otherwise                                            → admit, holding the next stretch of what is then usable
 */
export function decideGrowth(chunk: number, held: number, view: VolumeView, policy: PolicyConfig, now: number): Decision {
  const { figures, fresh } = figuresOf(null, view, policy, now);
  const reject = (reason: Reason): Decision => ({ verdict: 'reject', status: 507, reason, figures });
  if (view.flooded) return reject('flood_stage');
  if (view.markedFull) return reject('insufficient_storage');
  if (!fresh) return { verdict: 'admit_unknown', reason: 'stale', reserveBytes: 0, figures };
  const room = figures.usableBytes! + held;
  if (chunk > room) return reject('insufficient_storage');
  return { verdict: 'admit', reason: 'fits', reserveBytes: stretchOf(room - chunk, policy), figures };
}
