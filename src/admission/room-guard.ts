import type { PolicyConfig } from '../config/types.js';
import { HeadroomRegistry } from '../headroom/registry.js';
import type { VolumeState } from '../headroom/volume-state.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Problem } from '../http/problem.js';
import type { Constraint } from '../exchange/constraint.js';
import type { Exchange } from '../exchange/exchange.js';
import { usableBytes, type Reason } from '../decision/decision.js';
import { declaredSize, inodesOf } from '../decision/write-facts.js';
import { judgeWith, type Rejection } from './judge.js';

/** What a room guard asks of its plugin. */
export interface RoomGuardOptions {
  /** The constraint's name, for logs, traces and `headroom_decisions_total`. */
  readonly name: string;
  /**
   * The room a write to `path` is judged against (a tenant's name), null
   * when this guard has nothing to say about it, or a refusal to answer
   * as is (a tenant that cannot be told where one is required). For a COPY
   * or MOVE, `path` is its Destination's.
   */
  roomOf(exchange: Exchange, path: string): string | null | Problem;
  /** How long a room's figures are trusted after their measurement started (ms); older, the gateway's `policy.onUnknown` applies. */
  readonly staleAfter: number;
  /** The answer to a write the room cannot take. */
  refusal(refused: RoomRefusal): Problem;
}

/** Why a room refused a write, with its figures. */
export interface RoomRefusal {
  readonly room: string;
  /** 507 `insufficient_storage` or `too_large` (more than the whole room), 503 `stale` or `ledger_unavailable`. */
  readonly status: number;
  readonly reason: Reason;
  /** The write's size; null for a body of unknown length. */
  readonly requestedBytes: number | null;
  readonly totalBytes: number | null;
  readonly usedBytes: number | null;
  /** What the room can take now: total − used − held by writes in flight − written since the figures. */
  readonly availableBytes: number | null;
  /** Seconds, as the gateway's policy.retryAfter. */
  readonly retryAfter: number;
  readonly unavailable?: string;
}

/** A room's figures, measured. */
export interface RoomFigures {
  readonly totalBytes: number;
  readonly usedBytes: number;
}

/** A room as a plugin's status shows it. */
export interface RoomStatus extends RoomFigures {
  readonly room: string;
  readonly availableBytes: number;
  readonly reservedBytes: number;
  readonly writtenSinceSnapshotBytes: number;
  readonly snapshotAgeMs: number;
}

export interface RoomGuard {
  readonly constraint: Constraint;
  /**
   * Measures a room: `read` runs now and its figures are taken as of its
   * start — what writes through this gateway had sent by then is taken as
   * shown, what they send later counts as written until the next measurement.
   */
  measure(room: string, read: () => RoomFigures | Promise<RoomFigures>): Promise<void>;
  /** A room's figures; null before its first measurement. */
  status(room: string): RoomStatus | null;
  /** Forgets every room `keep` refuses (a tenant no longer configured). */
  retain(keep: (room: string) => boolean): void;
}

/** A room is never in flood stage: its total is a quota, not a disk that slows as it fills. */
const NO_FLOOD = { floodStage: Infinity, floodRelease: Infinity };

/**
 * A guard over rooms of a plugin's own: each room is judged by the same
 * decision and held in the same ledger as a volume, with no reserve, no
 * flood stage and no inodes of its own (the volume's still apply, by the
 * storage guard). `owner` keeps its rooms apart from volumes in the ledger.
 */
export function roomGuard(owner: string, options: RoomGuardOptions, { ledger, policy }: { ledger: Ledger; policy: () => PolicyConfig }): RoomGuard {
  const rooms = new HeadroomRegistry(NO_FLOOD, { exact: !ledger.shared });
  const roomPolicy = (gateway: PolicyConfig): PolicyConfig => ({ ...gateway, reserve: { bytes: 0 }, minFreeInodes: 0, maxBodySize: 0, staleAfter: options.staleAfter });
  const stateOf = (room: string): VolumeState => rooms.volume(owner, room);
  // One judge per policy (a reload of the gateway or of the plugin makes a new one), not one per write.
  let judged: { readonly gateway: PolicyConfig; readonly staleAfter: number; readonly judge: ReturnType<typeof judgeWith>; readonly retryAfter: number } | null = null;
  const judgeFor = (gateway: PolicyConfig): { judge: ReturnType<typeof judgeWith>; retryAfter: number } => {
    if (judged?.gateway === gateway && judged.staleAfter === options.staleAfter) return judged;
    const p = roomPolicy(gateway);
    const retryAfter = Math.ceil(p.retryAfter / 1000);
    const judge = judgeWith({ ledger, policy: p, primary: false, refusal: (decision: Rejection, context) => options.refusal(refusalOf(context.volume!, decision, retryAfter, context.unavailable)) });
    judged = { gateway, staleAfter: options.staleAfter, judge, retryAfter };
    return judged;
  };

  const admit = (exchange: Exchange) => {
    const { req } = exchange;
    const gateway = policy();
    if (!gateway.writeMethods.includes(req.method!)) return undefined;
    const destination = exchange.destination;
    const room = options.roomOf(exchange, destination?.path ?? exchange.path);
    if (room === null || typeof room !== 'string') return room ?? undefined;
    if (destination !== null && req.method === 'MOVE' && options.roomOf(exchange, exchange.path) === room) return undefined; // a rename within the room
    const size = declaredSize(req.headers);
    if ('status' in size) return size;
    // A COPY or MOVE writes what the storage guard learnt of its source; unknown, it holds a stretch.
    const learnt = destination === null ? size.bytes : (exchange.decision?.figures.requestedBytes ?? null);
    const facts = { declaredBytes: learnt, inodes: destination === null ? inodesOf(req.method!) : 0 };
    const { judge, retryAfter } = judgeFor(policy());
    const state = stateOf(room);
    return judge(exchange, {
      state,
      facts,
      size,
      destination,
      share: 1,
      admitUnknown: destination !== null && learnt === null ? 'the size of the source is unknown' : null,
      context: () => ({ origin: owner, volume: room, destination: destination?.path ?? null, retryAfter, minFreeInodes: 0, maxBodySize: 0 }),
    });
  };

  /** A room's figures; null before its first measurement. */
  const status = (room: string): RoomStatus | null => {
    const state = rooms.get(owner, room);
    const snapshot = state?.snapshot;
    if (!state || !snapshot) return null;
    const reservedBytes = ledger.reservedBytes(state.key);
    const writtenSinceSnapshotBytes = state.writtenSinceSnapshot;
    return {
      room,
      totalBytes: snapshot.totalBytes,
      usedBytes: snapshot.totalBytes - snapshot.availableBytes,
      availableBytes: Math.max(0, usableBytes(snapshot, { reservedBytes, writtenSinceSnapshot: writtenSinceSnapshotBytes }, { reserve: { bytes: 0 } })),
      reservedBytes,
      writtenSinceSnapshotBytes,
      snapshotAgeMs: Date.now() - snapshot.takenAt,
    };
  };

  return {
    constraint: { name: options.name, admit },
    measure: async (room, read) => {
      const state = stateOf(room);
      const mark = state.writtenMark();
      const takenAt = Date.now();
      try {
        const { totalBytes, usedBytes } = await read();
        state.record({ totalBytes, availableBytes: Math.max(0, totalBytes - usedBytes), totalInodes: null, freeInodes: null, takenAt, source: 'plugin' }, mark);
      } catch (err) {
        state.recordError((err as Error).message);
        throw err;
      }
    },
    status,
    retain: (keep) => rooms.retain((state) => keep(state.volume)),
  };
}

function refusalOf(room: string, decision: Rejection, retryAfter: number, unavailable: string | undefined): RoomRefusal {
  const f = decision.figures;
  const available = f.usableBytes === null ? null : Math.max(0, f.usableBytes);
  return {
    room,
    status: decision.status,
    reason: decision.reason,
    requestedBytes: f.requestedBytes,
    totalBytes: f.totalBytes,
    usedBytes: f.totalBytes !== null && f.availableBytes !== null ? f.totalBytes - f.availableBytes : null,
    availableBytes: available,
    retryAfter,
    ...(unavailable === undefined ? {} : { unavailable }),
  };
}
