import type { GatewayConfig } from '../config/types.js';
import type { ReloadResult } from '../config/reload-result.js';
import type { VolumeChange } from '../headroom/volume-state.js';

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

/**
 * The held figures of one volume in the group's ledger: its key, bytes, inodes.
 * The ledger's messages are tuples, not objects: they are the only messages
 * sent per request, and a tuple serializes without its keys.
 */
export type HeldFigures = readonly [volumeKey: string, bytes: number, inodes: number];

export const RESERVE = 0;
export const GROW = 1;
export const RELEASE = 2;

/**
 * A worker's call on the group's ledger. `call` numbers the answer for
 * calls that get one; `lease` is the worker's number for the lease (the
 * primary names it after the worker).
 */
export type LedgerCall =
  | readonly [op: typeof RESERVE, call: number, lease: number, volumeKey: string, bytes: number, inodes: number, roomBytes: number, roomInodes: number, since: number | null]
  | readonly [op: typeof GROW, call: number, lease: number, volumeKey: string, consumed: number, bytes: number, roomBytes: number, since: number | null]
  | readonly [op: typeof RELEASE, lease: number, volumeKey: string, writtenBytes: number, writtenInodes: number];

/**
 * The primary's answer to a call, by its number: a reserve's grant or
 * refusal (with the figures it refused on), or a growth's; 'malformed' for
 * a call the primary could not take (the worker reads it as no answer).
 */
export type LedgerReply =
  | readonly [call: number, granted: true]
  | readonly [call: number, granted: false, reservedBytes: number, reservedInodes: number, writtenBytes: number, writtenInodes: number]
  | readonly [call: number, grown: 'held' | 'refused']
  | readonly [call: number, malformed: 'malformed'];

export type ToWorker =
  /** The first message: the validated configuration and what the registry knows so far. */
  | { readonly type: 'start'; readonly slot: number; readonly config: GatewayConfig; readonly volumes: readonly VolumeNews[]; readonly origins: readonly OriginNews[] }
  | ({ readonly type: 'volume' } & VolumeNews)
  | ({ readonly type: 'origin' } & OriginNews)
  /**
   * Once per turn of the primary's event loop, to each worker with answers
   * due or when holds changed: its answers, in the order of its calls, and
   * the held figures of every volume whose holds changed.
   */
  | { readonly type: 'ledger'; readonly replies: readonly LedgerReply[]; readonly held: readonly HeldFigures[] }
  | { readonly type: 'reload'; readonly id: number; readonly config: GatewayConfig }
  | { readonly type: 'metrics'; readonly id: number }
  | { readonly type: 'stop' };

export type ToPrimary =
  /** The worker listens for messages: its start can be sent. */
  | { readonly type: 'hello' }
  | { readonly type: 'listening'; readonly host: string; readonly port: number }
  /** An origin answered 507 in this worker: every process marks the volume full. */
  | { readonly type: 'full'; readonly origin: string; readonly volume: string; readonly at: number }
  /** Once per turn of the worker's event loop: its ledger calls, in order. */
  | { readonly type: 'ledger'; readonly calls: readonly LedgerCall[] }
  | { readonly type: 'reloaded'; readonly id: number; readonly result: ReloadResult }
  | { readonly type: 'metrics'; readonly id: number; readonly text: string };
