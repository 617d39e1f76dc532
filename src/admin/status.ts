import { remoteSourceOf, type PolicyConfig, type RemoteSourceKind } from '../config/types.js';
import type { Origin } from '../exchange/origin.js';
import { reserveOf, usableBytes } from '../decision/decision.js';
import type { HeadroomRegistry } from '../headroom/registry.js';
import type { VolumeState } from '../headroom/volume-state.js';
import { growthOf } from '../headroom/growth.js';
import type { Ledger, LedgerStatus } from '../ledger/ledger.js';

export interface VolumeStatus {
  readonly volume: string;
  readonly totalBytes: number | null;
  readonly availableBytes: number | null;
  readonly usableBytes: number | null;
  readonly reservedBytes: number;
  readonly writtenSinceSnapshotBytes: number;
  readonly reserveBytes: number | null;
  readonly totalInodes: number | null;
  readonly freeInodes: number | null;
  readonly snapshotAgeMs: number | null;
  readonly fresh: boolean;
  readonly flood: boolean;
  readonly markedFull: boolean;
  readonly source: string | null;
  readonly lastError: string | null;
  /** Least-squares slope of used bytes over `history`; null with too few snapshots (see growthNote). */
  readonly growthBytesPerSecond: number | null;
  /** Projected from the newest snapshot at that rate; 0 at or past flood stage; null: never, or unknown (see growthNote). */
  readonly secondsToFloodStage: number | null;
  /** Why either figure above is null, or that the volume is past flood stage; null otherwise. */
  readonly growthNote: string | null;
  /** Recent snapshots as `[takenAt ms since the epoch, used bytes]`, oldest first (bounded in count and age). */
  readonly history: ReadonlyArray<readonly [number, number]>;
}

export interface OriginStatus {
  readonly name: string;
  readonly url: string;
  /** null: no health checks, or none has run yet. */
  readonly healthy: boolean | null;
  readonly lastHealthError: string | null;
  /** What measures its volumes from elsewhere (agent, nodeExporter, prometheus); null: none (local paths, or nothing). */
  readonly remoteSource: RemoteSourceKind | null;
  /** The remote source's last failed poll, whatever its kind (the name is older than the other sources). */
  readonly lastAgentError: string | null;
  readonly lastAgentErrorAt: string | null;
  readonly volumes: readonly VolumeStatus[];
}

export interface GatewayStatus {
  /** The configuration's generation: 1 at start, one more per reload. */
  readonly generation: number;
  readonly reservedBytes: number;
  /** Where reservations are kept, and whether it answers. */
  readonly ledger: LedgerStatus;
  readonly floodStage: number;
  readonly floodRelease: number;
  readonly origins: readonly OriginStatus[];
}

/** The `/status` document (docs/admin.md): what the gateway knows, as of now. */
export function gatewayStatus(generation: number, origins: ReadonlyMap<string, Origin>, registry: HeadroomRegistry, ledger: Ledger, policy: PolicyConfig, now = Date.now()): GatewayStatus {
  const walk = statusWalk(generation, origins, registry, ledger, policy, now);
  return { ...walk, origins: [...walk.origins].map((o) => ({ ...o, volumes: [...o.volumes] })) };
}

/** The document with its origins and volumes made as they are read, each volume's figures as of then: one with many volumes is written a few at a time. */
export interface StatusWalk extends Omit<GatewayStatus, 'origins'> {
  readonly origins: Iterable<OriginWalk>;
}

export interface OriginWalk extends Omit<OriginStatus, 'volumes'> {
  readonly volumes: Iterable<VolumeStatus>;
}

/** The document as a walk; `now` for every volume, else the time each is read. */
export function statusWalk(generation: number, origins: ReadonlyMap<string, Origin>, registry: HeadroomRegistry, ledger: Ledger, policy: PolicyConfig, now?: number): StatusWalk {
  return {
    ...statusHead(generation, ledger, policy),
    origins: iterable(function* () {
      for (const origin of origins.values()) {
        yield {
          ...originHead(origin),
          volumes: iterable(function* () {
            for (const state of registry.volumesOf(origin.name)) yield volumeStatus(state, registry, ledger, policy, now ?? Date.now());
          }),
        };
      }
    }),
  };
}

const iterable = <T>(walk: () => Iterator<T>): Iterable<T> => ({ [Symbol.iterator]: walk });

/** The walk as JSON text, a piece per volume; joined, `JSON.stringify` of the document it walks. */
export function* statusText(walk: StatusWalk): Generator<string> {
  const { origins, ...head } = walk;
  // Each object's last member is the list that follows it: its text, open at that list.
  yield `${JSON.stringify(head).slice(0, -1)},"origins":[`;
  let o = 0;
  for (const { volumes, ...origin } of origins) {
    yield `${o++ === 0 ? '' : ','}${JSON.stringify(origin).slice(0, -1)},"volumes":[`;
    let v = 0;
    for (const volume of volumes) yield `${v++ === 0 ? '' : ','}${JSON.stringify(volume)}`;
    yield ']}';
  }
  yield ']}';
}

function statusHead(generation: number, ledger: Ledger, policy: PolicyConfig): Omit<GatewayStatus, 'origins'> {
  return { generation, reservedBytes: ledger.totalReservedBytes(), ledger: ledger.describe(), floodStage: policy.floodStage, floodRelease: policy.floodRelease };
}

function originHead(origin: Origin): Omit<OriginStatus, 'volumes'> {
  return {
    name: origin.name,
    url: origin.config.url,
    healthy: origin.health?.healthy ?? null,
    lastHealthError: origin.health?.lastError ?? null,
    remoteSource: remoteSourceOf(origin.config.headroom),
    lastAgentError: origin.agentStatus?.lastError ?? null,
    lastAgentErrorAt: origin.agentStatus?.lastErrorAt ? new Date(origin.agentStatus.lastErrorAt).toISOString() : null,
  };
}

function volumeStatus(state: VolumeState, registry: HeadroomRegistry, ledger: Ledger, policy: PolicyConfig, now: number): VolumeStatus {
  const snapshot = state.snapshot;
  const reservedBytes = ledger.reservedBytes(state.key);
  const age = snapshot ? now - snapshot.takenAt : null;
  const points = registry.growth?.points(state.key) ?? [];
  const growth = growthOf(points, snapshot?.totalBytes ?? 0, policy.floodStage);
  return {
    volume: state.volume,
    totalBytes: snapshot?.totalBytes ?? null,
    availableBytes: snapshot?.availableBytes ?? null,
    // Room is never below none; the decision keeps its own signed figure.
    usableBytes: snapshot ? Math.max(0, usableBytes(snapshot, { reservedBytes, writtenSinceSnapshot: state.writtenSinceSnapshot }, policy)) : null,
    reservedBytes,
    writtenSinceSnapshotBytes: state.writtenSinceSnapshot,
    reserveBytes: snapshot ? reserveOf(policy.reserve, snapshot.totalBytes) : null,
    totalInodes: snapshot?.totalInodes ?? null,
    freeInodes: snapshot?.freeInodes ?? null,
    snapshotAgeMs: age,
    fresh: isFresh(state, policy, now),
    flood: state.flooded,
    markedFull: state.markedFull,
    source: snapshot?.source ?? null,
    lastError: state.lastError,
    growthBytesPerSecond: growth.bytesPerSecond,
    secondsToFloodStage: growth.secondsToFloodStage,
    growthNote: growth.note,
    history: points.map((p) => [p.at, p.usedBytes] as const),
  };
}

function isFresh(state: VolumeState, policy: PolicyConfig, now: number): boolean {
  const snapshot = state.snapshot;
  return snapshot !== null && now - snapshot.takenAt <= policy.staleAfter;
}

export interface Readiness {
  readonly ready: boolean;
  readonly waitingFor: string[];
  readonly notes: string[];
}

/**
 * Ready: every origin with a source has a fresh snapshot, and every
 * checked origin is up. A shared ledger that does not answer leaves the
 * gateway ready — reads still pass — with a note saying what writes get.
 * Probes ask often: it reads only freshness, never the growth figures.
 */
export function readiness(origins: ReadonlyMap<string, Origin>, registry: HeadroomRegistry, ledger: Ledger, policy: PolicyConfig, now = Date.now()): Readiness {
  const notes: string[] = [];
  const described = ledger.describe();
  if (described.state === 'local') notes.push(`ledger: Redis does not answer (${described.lastError}); writes are judged by this gateway alone`);
  if (described.state === 'unavailable') notes.push(`ledger: Redis does not answer (${described.lastError}); writes are refused with 503 ledger_unavailable`);
  const waitingFor: string[] = [];
  for (const origin of origins.values()) {
    const config = origin.config.headroom;
    if ((config.local || remoteSourceOf(config) !== null) && !registry.volumesOf(origin.name).some((v) => isFresh(v, policy, now))) waitingFor.push(`${origin.name}: no fresh snapshot`);
    if (config.health && origin.health?.healthy !== true) waitingFor.push(`${origin.name}: not healthy`);
  }
  return { ready: waitingFor.length === 0, waitingFor, notes };
}
