import type { PolicyConfig } from '../config/types.js';
import type { HeadroomRegistry } from '../headroom/registry.js';
import type { VolumeState } from '../headroom/volume-state.js';
import type { GrowAnswer, Ledger, Reservation, ReserveAnswer } from '../ledger/ledger.js';
import { isRefusal, type Admission, type Constraint, type Hold } from '../exchange/constraint.js';
import type { Destination, Exchange } from '../exchange/exchange.js';
import { sourceSize } from './copy-size.js';
import { decide, decideGrowth, usableBytes, type Decision, type VolumeView, type WriteFacts } from '../decision/decision.js';
import { clientGone, overDeclaredProblem, rangeNotSupported, refusalProblem, sizeUnknownProblem, streamedTooLarge, type RefusalContext } from '../decision/refusal.js';
import { declaredSize, inodesOf, type DeclaredSize } from '../decision/write-facts.js';

export interface GuardDependencies {
  readonly registry: HeadroomRegistry;
  readonly ledger: Ledger;
  readonly policy: PolicyConfig;
}

type Outcome = Admission | Promise<Admission>;
type Chunk = (bytes: number) => void | Promise<void>;

const nothing = (): void => undefined;

/**
 * The storage guard, the first admission constraint: decides about every
 * write before any byte of it (or a 100 Continue) goes out, reserves what
 * it admits in the ledger (checked and held in one step), and meters the
 * body as it streams. A COPY or MOVE is judged against its Destination's
 * volume, sized from its source (asked of the origin, so that decision
 * waits).
 */
export function storageGuard({ registry, ledger, policy }: GuardDependencies): Constraint {
  const writeMethods = new Set(policy.writeMethods);
  const retryAfter = Math.ceil(policy.retryAfter / 1000);
  const stateOf = (origin: string, volume: string | null): VolumeState | null => (volume === null ? null : registry.volume(origin, volume));

  /** Decides about a write to `state`'s volume and, when admitted, holds its room until the exchange ends. */
  const judge = (exchange: Exchange, state: VolumeState | null, facts: WriteFacts, size: DeclaredSize, destination: Destination | null, admitUnknown: string | null): Outcome => {
    const origin = exchange.route!.origin.name;
    const view = state && viewOf(state, ledger);
    let decision = decide(facts, view, policy, Date.now());
    if (admitUnknown !== null && decision.verdict === 'admit') decision = { ...decision, verdict: 'admit_unknown', reason: 'stale' };
    exchange.decision = decision;
    exchange.volume = state?.volume ?? null;
    // Built only for a refusal, now or when an upload is cut mid-stream.
    const context = (): RefusalContext => ({ origin, volume: state?.volume ?? null, destination: destination?.path ?? null, retryAfter, minFreeInodes: policy.minFreeInodes, maxBodySize: policy.maxBodySize });
    if (decision.verdict === 'reject') return refusalProblem(decision, context());
    if (state === null) return size.header === null ? undefined : { chunk: heldToDeclared(exchange, size, nothing), end: nothing };

    const granted = (answer: ReserveAnswer): Admission => {
      if ('unavailable' in answer) {
        exchange.decision = { verdict: 'reject', status: 503, reason: 'ledger_unavailable', figures: decision.figures };
        return refusalProblem(exchange.decision, { ...context(), unavailable: answer.unavailable });
      }
      if (!answer.granted) {
        const refused = refusedByLedger(facts, {
          ...view!,
          reservedBytes: answer.reservedBytes,
          reservedInodes: answer.reservedInodes,
          writtenSinceSnapshot: view!.writtenSinceSnapshot + answer.writtenBytes,
          inodesSinceSnapshot: view!.inodesSinceSnapshot + answer.writtenInodes,
        });
        exchange.decision = refused;
        return refusalProblem(refused, context());
      }
      return holdOf(exchange, state, answer.reservation, facts, size, destination, context);
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

  /** A later figure of the ledger's refused what the decision admitted: the decision on those figures. */
  const refusedByLedger = (facts: WriteFacts, view: VolumeView): Rejection => {
    const again = decide(facts, view, policy, Date.now());
    return again.verdict === 'reject' ? again : { verdict: 'reject', status: 507, reason: 'insufficient_storage', figures: again.figures };
  };

  /** What an admitted write holds: its reservation, metered as the body streams, released at the end. */
  const holdOf = (exchange: Exchange, state: VolumeState, reservation: Reservation, facts: WriteFacts, size: DeclaredSize, destination: Destination | null, context: () => RefusalContext): Hold => {
    // A write holds the inodes it may take until its exchange ends; one
    // that made something has taken them, until a snapshot shows it.
    let made = false;
    const originStatus = (status: number): void => {
      if (status === 507) state.markFull();
      made = status === 201 || (destination !== null && status === 204); // a COPY or MOVE onto an existing resource makes it anew
    };
    if (facts.declaredBytes === null && destination === null) {
      const metered = meter(exchange, state, reservation, { ledger, policy, context });
      return {
        chunk: metered.chunk,
        originStatus,
        end: () => {
          if (made) state.addCreated(facts.inodes);
          reservation.release({ bytes: metered.streamed(), inodes: made ? facts.inodes : 0 });
        },
        mayPause: !ledger.immediate,
      };
    }
    // A known size stays reserved whole until the exchange ends: until
    // the origin has answered, streamed bytes may still sit in socket
    // buffers or the origin's memory, where a snapshot taken meanwhile
    // does not see them. Then they count as written until a snapshot
    // that started later. A COPY's bytes are written by the origin itself.
    let written = destination === null ? 0 : reservation.bytes;
    const count = (bytes: number): void => {
      written += bytes;
    };
    return {
      chunk: destination !== null ? undefined : size.header === null ? count : heldToDeclared(exchange, size, count),
      originStatus,
      end: () => {
        state.addWritten(written);
        if (made) state.addCreated(facts.inodes);
        reservation.release({ bytes: written, inodes: made ? facts.inodes : 0 });
      },
    };
  };

  /**
   * COPY, or MOVE: judged against the volume the Destination routes to. A
   * MOVE within one volume is a rename and is not judged. Otherwise the
   * whole source must fit there, without counting what an overwritten
   * destination frees: the origin may delete it first and then fail.
   */
  const transfer = (exchange: Exchange, destination: Destination, size: DeclaredSize): Outcome => {
    const { req } = exchange;
    const route = exchange.route!;
    const target = stateOf(destination.route.origin.name, destination.route.volume);
    // A rename writes nothing: not judged, even on a full volume (users reorganise to make room).
    if (req.method === 'MOVE' && destination.route.volume === route.volume) return undefined;
    if (target === null) return judge(exchange, null, { declaredBytes: 0, inodes: 0 }, size, destination, null);
    const headers: Record<string, string> = { host: exchange.authority };
    if (req.headers.authorization !== undefined) headers.authorization = req.headers.authorization;
    const source = {
      origin: route.origin,
      path: (route.origin.target.path ?? '') + exchange.target!.originForm,
      headers,
      depth0: String(req.headers.depth ?? '').trim() === '0',
    };
    return sourceSize(source, policy.copyWalk).then((learnt): Outcome => {
      if (exchange.ended) return clientGone;
      if (learnt.known) return judge(exchange, target, { declaredBytes: learnt.bytes, inodes: learnt.inodes }, size, destination, null);
      if (policy.onUnknown === 'reject') {
        exchange.volume = target.volume;
        return sizeUnknownProblem(req.method!, learnt.why, { origin: route.origin.name, volume: target.volume, retryAfter });
      }
      // Judged as a body of unknown length is: admitted while the volume has room.
      return judge(exchange, target, { declaredBytes: null, inodes: 1 }, size, destination, learnt.why);
    });
  };

  const admit = (exchange: Exchange): Outcome => {
    const { req } = exchange;
    const method = req.method!;
    if (method === 'PUT' && req.headers['content-range'] !== undefined && policy.contentRange === 'reject') return rangeNotSupported(req.headers['content-range']);
    if (!writeMethods.has(method)) return undefined;
    const size = declaredSize(req.headers);
    if ('status' in size) return size;
    if (exchange.destination !== null) return transfer(exchange, exchange.destination, size);
    const route = exchange.route!;
    const said = judge(exchange, stateOf(route.origin.name, route.volume), { declaredBytes: size.bytes, inodes: inodesOf(method) }, size, null, null);
    if (size.bytes === null && policy.maxBodySize > 0) return said instanceof Promise ? said.then((s) => cappedAt(exchange, policy.maxBodySize, s)) : cappedAt(exchange, policy.maxBodySize, said);
    return said;
  };

  return { name: 'storage', admit };
}

type Rejection = Extract<Decision, { verdict: 'reject' }>;

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
function cappedAt(exchange: Exchange, maxBodySize: number, admission: Admission): Admission {
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
function meter(
  exchange: Exchange,
  state: VolumeState,
  reservation: Reservation,
  { ledger, policy, context }: { ledger: Ledger; policy: PolicyConfig; context: () => RefusalContext },
): { chunk: Chunk; streamed: () => number } {
  let streamed = 0;
  const refuse = (decision: Rejection, unavailable?: string): void => {
    exchange.decision = decision;
    exchange.cut(refusalProblem(decision, { ...context(), unavailable }));
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
    if (decision.verdict === 'reject') return refuse(decision);
    // What the chunk needs beyond what is held, and the next stretch, in one ask.
    const bounded = decision.verdict !== 'admit_unknown';
    const room = bounded ? roomBytesOf(decision.figures) : Infinity;
    const settle = (grown: GrowAnswer, waited: boolean): void => {
      if (exchange.cutReason) return; // cut (timed out, say) while the ledger answered
      if (grown === 'unavailable') return refuse({ verdict: 'reject', status: 503, reason: 'ledger_unavailable', figures: decision.figures }, 'no answer to a growing upload');
      if (grown === 'refused' || (waited && bounded && !ledger.shared && overcommitted(state, ledger, policy))) {
        const again = decideGrowth(bytes, reservation.bytes, viewOf(state, ledger), policy, Date.now());
        return refuse(again.verdict === 'reject' ? again : { verdict: 'reject', status: 507, reason: 'insufficient_storage', figures: again.figures });
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
