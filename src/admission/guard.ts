import type { PolicyConfig } from '../config/types.js';
import type { HeadroomRegistry } from '../headroom/registry.js';
import type { VolumeState } from '../headroom/volume-state.js';
import type { Ledger, Reservation } from '../ledger/ledger.js';
import type { Exchange } from '../gateway/exchange.js';
import type { Step } from '../gateway/step.js';
import { decide, decideGrowth, type VolumeView } from './decision.js';
import { overDeclaredProblem, rangeNotSupported, refusalProblem, type RefusalContext } from './refusal.js';
import { creates, declaredSize, type DeclaredSize } from './write-facts.js';

export interface GuardDependencies {
  readonly registry: HeadroomRegistry;
  readonly ledger: Ledger;
  readonly policy: PolicyConfig;
}

/**
 * The storage guard as a step of the request's way: decides about every
 * write before any byte of it (or a 100 Continue) goes out, reserves what
 * it admits, and meters the body as it streams.
 */
export function storageGuard({ registry, ledger, policy }: GuardDependencies): Step {
  const writeMethods = new Set(policy.writeMethods);
  const retryAfter = Math.ceil(policy.retryAfter / 1000);

  return (exchange) => {
    const { req, res } = exchange;
    if (req.method === 'PUT' && req.headers['content-range'] !== undefined && policy.contentRange === 'reject') return rangeNotSupported(req.headers['content-range']);
    if (!writeMethods.has(req.method!)) return undefined;
    const route = exchange.route!;
    const state = route.volume === null ? null : registry.volume(route.origin.name, route.volume);
    const size = declaredSize(req.headers);
    if ('status' in size) return size;
    const facts = { declaredBytes: size.bytes, creates: creates(req.method!) };
    const decision = decide(facts, state && viewOf(state, ledger), policy, Date.now());
    exchange.decision = decision;
    exchange.volume = state?.volume ?? null;
    // Built only for a refusal, now or when an upload is cut mid-stream.
    const context = (): RefusalContext => ({ origin: route.origin.name, volume: state?.volume ?? null, retryAfter, minFreeInodes: policy.minFreeInodes, maxBodySize: policy.maxBodySize });
    if (decision.verdict === 'reject') return refusalProblem(decision, context());
    if (state === null) {
      if (size.header !== null) exchange.meter = heldToDeclared(exchange, size, () => undefined);
      return undefined;
    }

    // A creating write holds an inode until its exchange ends; one that
    // made something (201 Created) has taken it, until a snapshot shows it.
    const inodes = facts.creates ? 1 : 0;
    const reservation = ledger.reserve(state.key, decision.reserveBytes, inodes);
    let created = false;
    res.once('close', () => {
      if (created) state.addCreated(inodes);
    });
    if (facts.declaredBytes === null) {
      res.once('close', () => reservation.release());
      exchange.meter = meter(exchange, state, reservation, { ledger, policy, context });
    } else {
      // A known size stays reserved whole until the exchange ends: until
      // the origin has answered, streamed bytes may still sit in socket
      // buffers or the origin's memory, where a snapshot taken meanwhile
      // does not see them. Then they count as written until a snapshot
      // that started later.
      let streamed = 0;
      exchange.meter =
        size.header === null
          ? (bytes) => {
              streamed += bytes;
            }
          : heldToDeclared(exchange, size, (bytes) => (streamed += bytes));
      res.once('close', () => {
        state.addWritten(streamed);
        reservation.release();
      });
    }
    exchange.onOriginStatus = (status) => {
      if (status === 507) state.markFull();
      created = status === 201;
    };
    return undefined;
  };
}

/**
 * A chunked body whose size a size header declared is held to it, as
 * Content-Length holds a body: the chunk that would take it past that size
 * is not sent, and the upload is cut (the origin sees an incomplete request).
 */
function heldToDeclared(exchange: Exchange, size: DeclaredSize, passed: (bytes: number) => void): (bytes: number) => void {
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
): (bytes: number) => void {
  return (bytes) => {
    if (exchange.cutReason) return; // what still arrives is dropped, not sent
    const held = reservation.bytes;
    if (bytes <= held) {
      reservation.consume(bytes);
      state.addStreamed(bytes);
      return;
    }
    const decision = decideGrowth(bytes, held, viewOf(state, ledger), policy, Date.now());
    if (decision.verdict === 'reject') {
      exchange.decision = decision;
      exchange.cut(refusalProblem(decision, context()));
      return;
    }
    reservation.consume(held);
    state.addStreamed(bytes);
    reservation.grow(decision.reserveBytes);
  };
}

function viewOf(state: VolumeState, ledger: Ledger): VolumeView {
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
