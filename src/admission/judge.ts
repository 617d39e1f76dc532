import type { PolicyConfig } from '../config/types.js';
import type { VolumeState } from '../headroom/volume-state.js';
import type { Landing } from '../headroom/landings.js';
import type { GrowAnswer, Ledger, Reservation, ReserveAnswer } from '../ledger/ledger.js';
import type { Problem } from '../http/problem.js';
import { isRefusal, type Admission, type Hold } from '../exchange/constraint.js';
import type { Destination, Exchange } from '../exchange/exchange.js';
import { decide, decideGrowth, usableBytes, type Decision, type VolumeView, type WriteFacts } from '../decision/decision.js';
import { overDeclaredProblem, streamedTooLarge, type RefusalContext } from '../decision/refusal.js';
import type { DeclaredSize } from '../decision/write-facts.js';

export type Rejection = Extract<Decision, { verdict: 'reject' }>;
export type Outcome = Admission | Promise<Admission>;
type Chunk = (bytes: number) => void | Promise<void>;

export interface JudgeDependencies {
  readonly ledger: Ledger;
  readonly policy: PolicyConfig;
  /** The answer to a refusal of a write to the volume (or room) the context names. */
  readonly refusal: (decision: Rejection, context: RefusalContext) => Problem;
  /**
   * The exchange's decision is this judge's (the storage guard's): set on
   * it for logs, traces and metrics. A room guard's is set only when it refuses.
   */
  readonly primary: boolean;
}

/** One write to judge against one volume (or room). */
export interface Judged {
  readonly state: VolumeState | null;
  readonly facts: WriteFacts;
  readonly size: DeclaredSize;
  /** For a COPY or MOVE: where it writes (its bytes are written by the origin itself). */
  readonly destination: Destination | null;
  /** Why the size is unknown where it is judged as unknown though it is not a body (a COPY's unlearnt size); null otherwise. */
  readonly admitUnknown: string | null;
  /**
   * Of the body's bytes, the share this volume takes (a route's `volumes`):
   * `facts` are already scaled by it, the body's chunks are scaled as they
   * pass. 1 for the whole body.
   */
  readonly share: number;
  /** Where, for a refusal's answer. */
  readonly context: () => RefusalContext;
}

const nothing = (): void => undefined;

/**
 * Decides about a write to a volume and, when admitted, holds its room in
 * the ledger (checked and held in one step) until the exchange ends,
 * metering the body as it streams: what the storage guard does for a
 * route's volume, and a room guard for a tenant's quota.
 */
export function judgeWith({ ledger, policy, refusal, primary }: JudgeDependencies): (exchange: Exchange, write: Judged) => Outcome {
  const record = (exchange: Exchange, decision: Decision, state: VolumeState | null): void => {
    if (!primary && decision.verdict !== 'reject') return;
    exchange.decision = decision;
    exchange.volume = state?.volume ?? null;
  };

  /** A later figure of the ledger's refused what the decision admitted: the decision on those figures. */
  const refusedByLedger = (facts: WriteFacts, view: VolumeView): Rejection => {
    const again = decide(facts, view, policy, Date.now());
    return again.verdict === 'reject' ? again : { verdict: 'reject', status: 507, reason: 'insufficient_storage', figures: again.figures };
  };

  const judge = (exchange: Exchange, { state, facts, size, destination, admitUnknown, context, share }: Judged): Outcome => {
    const view = state && viewOf(state, ledger);
    let decision = decide(facts, view, policy, Date.now());
    if (admitUnknown !== null && decision.verdict === 'admit') decision = { ...decision, verdict: 'admit_unknown', reason: 'stale' };
    record(exchange, decision, state);
    if (decision.verdict === 'reject') return refusal(decision, context());
    if (state === null) return size.header === null ? undefined : { chunk: heldToDeclared(exchange, size, nothing), end: nothing };

    const granted = (answer: ReserveAnswer): Admission => {
      if ('unavailable' in answer) {
        const unavailable: Rejection = { verdict: 'reject', status: 503, reason: 'ledger_unavailable', figures: decision.figures };
        record(exchange, unavailable, state);
        return refusal(unavailable, { ...context(), unavailable: answer.unavailable });
      }
      if (!answer.granted) {
        const refused = refusedByLedger(facts, {
          ...view!,
          reservedBytes: answer.reservedBytes,
          reservedInodes: answer.reservedInodes,
          writtenSinceSnapshot: view!.writtenSinceSnapshot + answer.writtenBytes,
          inodesSinceSnapshot: view!.inodesSinceSnapshot + answer.writtenInodes,
        });
        record(exchange, refused, state);
        return refusal(refused, context());
      }
      return holdOf(exchange, state, answer.reservation, facts, size, destination, context, share);
    };
    const unbounded = decision.verdict === 'admit_unknown' || decision.figures.usableBytes === null;
    const answer = ledger.reserve({
      volumeKey: state.key,
      bytes: decision.reserveBytes,
      inodes: facts.inodes,
      roomBytes: unbounded ? Infinity : roomBytesOf(decision.figures),
      roomInodes: unbounded ? Infinity : roomInodesOf(decision.figures, view!, policy),
      since: unbounded ? null : state.snapshot!.takenAt,
    });
    if (!(answer instanceof Promise)) return granted(answer);
    return answer.then((later) => {
      if (!later.granted || unbounded || ledger.shared || !overcommitted(state, ledger, policy)) return granted(later);
      later.reservation.release();
      return granted({ granted: false, reservedBytes: ledger.reservedBytes(state.key), reservedInodes: ledger.reservedInodes(state.key), writtenBytes: 0, writtenInodes: 0 });
    });
  };

  /** What an admitted write holds: its reservation, metered as the body streams, released at the end. */
  const holdOf = (exchange: Exchange, state: VolumeState, reservation: Reservation, facts: WriteFacts, size: DeclaredSize, destination: Destination | null, context: () => RefusalContext, share: number): Hold => {
    // A write holds the inodes it may take until its exchange ends; one
    // that made something has taken them, until a snapshot shows it.
    let made = false;
    const originStatus = (status: number): void => {
      if (status === 507 && primary) state.markFull();
      made = status === 201 || (destination !== null && status === 204); // a COPY or MOVE onto an existing resource makes it anew
    };
    if (facts.declaredBytes === null && destination === null) {
      const metered = meter(exchange, state, reservation, { ledger, policy, refuse: (decision, unavailable) => refusal(decision, { ...context(), unavailable }), record });
      return {
        chunk: share === 1 ? metered.chunk : scaledBy(share, metered.chunk),
        originStatus,
        end: () => {
          if (made) state.addCreated(facts.inodes);
          state.endStreamed(metered.streamed());
          reservation.release({ bytes: metered.streamed(), inodes: made ? facts.inodes : 0 });
        },
        mayPause: !ledger.immediate,
      };
    }
    // A known size: where the volume's accounting is exact, its bytes
    // move from the hold to what streamed as they pass, and each snapshot
    // tells how many of them landed (VolumeState.exact). Otherwise it
    // stays reserved whole until the exchange ends — until the origin has
    // answered, streamed bytes may still sit in socket buffers or the
    // origin's memory, where a snapshot taken meanwhile does not see them —
    // and then counts as written until a snapshot that started later. A
    // COPY's bytes are written by the origin itself.
    const streams = state.exact && destination === null;
    let written = destination === null ? 0 : reservation.bytes;
    const add = streams
      ? (bytes: number): void => {
          written += bytes;
          reservation.consume(bytes);
          state.addStreamed(bytes);
        }
      : (bytes: number): void => {
          written += bytes;
        };
    const count = share === 1 ? add : scaledBy(share, add);
    // Only where this process admits and counts every write to the volume (exact) can its growth tell (see Landings).
    const landable = primary && streams;
    let landing: Landing | null = null;
    return {
      chunk: destination !== null ? undefined : size.header === null ? count : heldToDeclared(exchange, size, count),
      originStatus,
      landing: landable ? () => (landing ??= state.expectLanding(facts.declaredBytes!, () => ledger.reservedBytes(state.key))) : undefined,
      end: () => {
        landing?.cancel();
        if (streams) state.endStreamed(written);
        else state.addWritten(written, facts.declaredBytes === null); // a COPY whose source could not be sized: a guess
        if (made) state.addCreated(facts.inodes);
        reservation.release({ bytes: written, inodes: made ? facts.inodes : 0 });
      },
    };
  };

  return judge;
}

/**
 * The room the decision's snapshot allows the volume's holds, for the
 * ledger's check: what is usable plus what is already held. (A write
 * admitted without fresh figures is not bounded by them.)
 */
function roomBytesOf(f: Decision['figures']): number {
  return f.usableBytes! + f.reservedBytes;
}

/** The same for inodes: free less minFreeInodes, plus those already held. */
function roomInodesOf(f: Decision['figures'], view: VolumeView, policy: PolicyConfig): number {
  return f.freeInodes === null ? Infinity : f.freeInodes + view.reservedInodes - policy.minFreeInodes;
}

/**
 * A body of unknown length is held to policy.maxBodySize as a declared one
 * is at the door: the chunk that would take it past is not sent, and the
 * upload is cut with 413.
 */
export function cappedAt(exchange: Exchange, maxBodySize: number, admission: Admission): Admission {
  if (admission !== undefined && isRefusal(admission)) return admission;
  const inner = admission?.chunk;
  let streamed = 0;
  const chunk: Chunk = (bytes) => {
    if (exchange.cutReason) return;
    if (streamed + bytes > maxBodySize) return exchange.cut(streamedTooLarge(maxBodySize));
    streamed += bytes;
    return inner?.(bytes);
  };
  return admission === undefined ? { chunk, end: nothing } : { ...admission, chunk };
}

/**
 * The share of a body's chunks that a volume takes, rounded up over the
 * whole body so far (not chunk by chunk, whose roundings would add up past
 * the share of the body).
 */
function scaledBy<R>(share: number, passed: (bytes: number) => R): (bytes: number) => R | undefined {
  let body = 0;
  return (bytes) => {
    const before = Math.ceil(body * share);
    body += bytes;
    const now = Math.ceil(body * share);
    return now > before ? passed(now - before) : undefined;
  };
}

/**
 * A chunked body whose size a size header declared is held to it, as
 * Content-Length holds a body: the chunk that would take it past that size
 * is not sent, and the upload is cut (the origin sees an incomplete request).
 */
function heldToDeclared(exchange: Exchange, size: DeclaredSize, passed: (bytes: number) => void): Chunk {
  const declared = size.bytes!;
  let streamed = 0;
  return (bytes) => {
    if (exchange.cutReason) return;
    if (streamed + bytes > declared) return exchange.cut(overDeclaredProblem(size.header!, declared));
    streamed += bytes;
    passed(bytes);
  };
}

interface MeterDependencies {
  readonly ledger: Ledger;
  readonly policy: PolicyConfig;
  readonly refuse: (decision: Rejection, unavailable?: string) => Problem;
  readonly record: (exchange: Exchange, decision: Decision, state: VolumeState) => void;
}

/**
 * A body of unknown length holds a stretch of the volume's room at a time
 * (see stretchOf). Its bytes move from the reservation to the volume's
 * streamed count as they pass, so a snapshot taken mid-stream shows what
 * already reached the disk instead of counting it twice. When a chunk is
 * more than the upload holds, the door's rules decide whether it may go
 * out (holding the next stretch) or the upload is cut before it does.
 * What is in flight when a measurement starts is the volume state's to
 * count (see VolumeState.writtenMark).
 */
function meter(exchange: Exchange, state: VolumeState, reservation: Reservation, { ledger, policy, refuse, record }: MeterDependencies): { chunk: Chunk; streamed: () => number } {
  let streamed = 0;
  const cut = (decision: Rejection, unavailable?: string): void => {
    record(exchange, decision, state);
    exchange.cut(refuse(decision, unavailable));
  };
  const pass = (bytes: number): void => {
    reservation.consume(bytes);
    state.addStreamed(bytes);
    streamed += bytes;
  };
  const chunk: Chunk = (bytes) => {
    if (exchange.cutReason) return; // what still arrives is dropped, not sent
    const held = reservation.bytes;
    if (bytes <= held) return pass(bytes);
    const decision = decideGrowth(bytes, held, viewOf(state, ledger), policy, Date.now());
    if (decision.verdict === 'reject') return cut(decision);
    // What the chunk needs beyond what is held, and the next stretch, in one ask.
    const bounded = decision.verdict !== 'admit_unknown';
    const room = bounded ? roomBytesOf(decision.figures) : Infinity;
    const settle = (grown: GrowAnswer, waited: boolean): void => {
      if (exchange.cutReason) return; // cut (timed out, say) while the ledger answered
      if (grown === 'unavailable') return cut({ verdict: 'reject', status: 503, reason: 'ledger_unavailable', figures: decision.figures }, 'no answer to a growing upload');
      if (grown === 'refused' || (waited && bounded && !ledger.shared && overcommitted(state, ledger, policy))) {
        const again = decideGrowth(bytes, reservation.bytes, viewOf(state, ledger), policy, Date.now());
        return cut(again.verdict === 'reject' ? again : { verdict: 'reject', status: 507, reason: 'insufficient_storage', figures: again.figures });
      }
      pass(bytes);
    };
    const grown = reservation.grow(bytes - held + decision.reserveBytes, room, bounded ? state.snapshot!.takenAt : null);
    if (!(grown instanceof Promise)) return settle(grown, false);
    return grown.then((later) => settle(later, true));
  };
  return { chunk, streamed: () => streamed };
}

/**
 * After a ledger's later answer: while it was pending, other uploads
 * streamed, moving bytes from their holds to what is written — room the
 * figure sent with the ask still counted as free. What is held and written
 * must still fit what the snapshot allows, or the grant is not used.
 */
function overcommitted(state: VolumeState, ledger: Ledger, policy: PolicyConfig): boolean {
  const snapshot = state.snapshot;
  return snapshot !== null && usableBytes(snapshot, { reservedBytes: ledger.reservedBytes(state.key), writtenSinceSnapshot: state.writtenSinceSnapshot }, policy) < 0;
}

/** A volume as the decision sees it: its state with the ledger's holds on it. */
export function viewOf(state: VolumeState, ledger: Ledger): VolumeView {
  return {
    snapshot: state.snapshot,
    flooded: state.flooded,
    markedFull: state.markedFull,
    reservedBytes: ledger.reservedBytes(state.key),
    writtenSinceSnapshot: state.writtenSinceSnapshot,
    reservedInodes: ledger.reservedInodes(state.key),
    inodesSinceSnapshot: state.inodesSinceSnapshot,
  };
}
