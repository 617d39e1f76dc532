import type { PolicyConfig } from '../config/types.js';
import type { HeadroomRegistry } from '../headroom/registry.js';
import type { VolumeState } from '../headroom/volume-state.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Constraint } from '../exchange/constraint.js';
import type { Destination, Exchange } from '../exchange/exchange.js';
import { sourceSize } from './copy-size.js';
import { cappedAt, judgeWith, type Outcome } from './judge.js';
import type { WriteFacts } from '../decision/decision.js';
import { clientGone, rangeNotSupported, refusalProblem, sizeUnknownProblem } from '../decision/refusal.js';
import { declaredSize, inodesOf, type DeclaredSize } from '../decision/write-facts.js';

export interface GuardDependencies {
  readonly registry: HeadroomRegistry;
  readonly ledger: Ledger;
  readonly policy: PolicyConfig;
}

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
  const judgeWrite = judgeWith({ ledger, policy, refusal: refusalProblem, primary: true });
  /** Judges a write to `state`'s volume; a refusal names the route's origin and volume (and a COPY's destination). */
  const judge = (exchange: Exchange, state: VolumeState | null, facts: WriteFacts, size: DeclaredSize, destination: Destination | null, admitUnknown: string | null): Outcome => {
    const origin = exchange.route!.origin.name;
    const context = () => ({ origin, volume: state?.volume ?? null, destination: destination?.path ?? null, retryAfter, minFreeInodes: policy.minFreeInodes, maxBodySize: policy.maxBodySize });
    return judgeWrite(exchange, { state, facts, size, destination, admitUnknown, context, share: 1 });
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

/**
 * The storage guard for the `index`-th volume of routes that list several
 * (`routes[].volumes`: a temp volume a server spools uploads to, say): a
 * body write is admitted only when each of them has room for its share,
 * each holds its own reservation, and a refusal names the volume that
 * lacked it. Runs after the guard of the target (the first); COPY and MOVE
 * write on the target alone, and are judged there.
 */
export function volumeGuard({ registry, ledger, policy }: GuardDependencies, index: number): Constraint {
  const writeMethods = new Set(policy.writeMethods);
  const retryAfter = Math.ceil(policy.retryAfter / 1000);
  // Not the exchange's decision (the target's is), unless it refuses; the body's cap (maxBodySize) is the target's to apply, to the body's own size.
  const judgeWrite = judgeWith({ ledger, policy: { ...policy, maxBodySize: 0 }, refusal: refusalProblem, primary: false });
  const admit = (exchange: Exchange): Outcome => {
    const { req } = exchange;
    const route = exchange.route!;
    const needed = route.volumes[index];
    if (needed === undefined || !writeMethods.has(req.method!) || exchange.destination !== null) return undefined;
    const size = declaredSize(req.headers);
    if ('status' in size) return size;
    const origin = route.origin.name;
    const context = () => ({ origin, volume: needed.volume, destination: null, retryAfter, minFreeInodes: policy.minFreeInodes, maxBodySize: policy.maxBodySize });
    const facts = { declaredBytes: sharedBytes(size.bytes, needed.share), inodes: inodesOf(req.method!) };
    return judgeWrite(exchange, { state: registry.volume(origin, needed.volume), facts, size, destination: null, admitUnknown: null, context, share: needed.share });
  };
  return { name: 'storage', admit };
}

/** A volume's share of a declared body, rounded up; unknown stays unknown. */
function sharedBytes(bytes: number | null, share: number): number | null {
  return bytes === null || share === 1 ? bytes : Math.ceil(bytes * share);
}
