import type { GatewayConfig } from '../config/types.js';
import type { ReloadResult } from '../config/reload-result.js';
import type { VolumeChange } from '../headroom/volume-state.js';
import type { GrowAnswer, ReserveRequest, Written } from '../ledger/ledger.js';

// What the primary of a group and its workers say to one another over the
// IPC channel node:cluster opens (advanced serialization: Infinity and
// nested objects arrive as sent). Plain data only.

/** What one volume learnt, by origin and volume name. */
export interface VolumeNews {
  readonly origin: string;
  readonly volume: string;
  readonly change: VolumeChange;
}

/** An origin's health and agent status as the primary's checks and polls left them. */
export interface OriginNews {
  readonly name: string;
  readonly healthy: boolean | null;
  readonly lastHealthError: string | null;
  readonly agentError: string | null;
  readonly agentErrorAt: number | null;
}

/** The held figures of one volume in the group's ledger. */
export interface HeldFigures {
  readonly bytes: number;
  readonly inodes: number;
}

/** A worker's call on the group's ledger; `call` numbers the answer for calls that get one. */
export type LedgerCall =
  | ({ readonly op: 'reserve'; readonly call: number; readonly lease: string } & ReserveRequest)
  | { readonly op: 'grow'; readonly call: number; readonly lease: string; readonly volumeKey: string; readonly consumed: number; readonly bytes: number; readonly roomBytes: number; readonly since: number | null }
  | { readonly op: 'release'; readonly lease: string; readonly volumeKey: string; readonly written: Written };

export type LedgerReply =
  | { readonly call: number; readonly granted: true }
  | { readonly call: number; readonly granted: false; readonly reservedBytes: number; readonly reservedInodes: number; readonly writtenBytes: number; readonly writtenInodes: number }
  | { readonly call: number; readonly grown: GrowAnswer };

export type ToWorker =
  /** The first message: the validated configuration and what the registry knows so far. */
  | { readonly type: 'start'; readonly slot: number; readonly config: GatewayConfig; readonly volumes: readonly VolumeNews[]; readonly origins: readonly OriginNews[] }
  | ({ readonly type: 'volume' } & VolumeNews)
  | ({ readonly type: 'origin' } & OriginNews)
  | { readonly type: 'held'; readonly figures: ReadonlyArray<readonly [string, HeldFigures]> }
  | ({ readonly type: 'ledger' } & LedgerReply)
  | { readonly type: 'reload'; readonly id: number; readonly config: GatewayConfig }
  | { readonly type: 'metrics'; readonly id: number }
  | { readonly type: 'stop' };

export type ToPrimary =
  /** The worker listens for messages: its start can be sent. */
  | { readonly type: 'hello' }
  | { readonly type: 'listening'; readonly host: string; readonly port: number }
  /** An origin answered 507 in this worker: every process marks the volume full. */
  | { readonly type: 'full'; readonly origin: string; readonly volume: string; readonly at: number }
  | ({ readonly type: 'ledger' } & LedgerCall)
  | { readonly type: 'reloaded'; readonly id: number; readonly result: ReloadResult }
  | { readonly type: 'metrics'; readonly id: number; readonly text: string };
