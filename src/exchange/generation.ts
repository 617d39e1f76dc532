import type { GatewayConfig } from '../config/types.js';
import type { ForwardingHeaders } from '../http/forwarding.js';
import type { Signature } from '../http/own-answer.js';
import type { Origin } from './origin.js';
import type { Step } from './step.js';
import type { Constraint } from './constraint.js';

/** What a configuration says about forwarding; each exchange is forwarded by its own generation's. */
export interface ForwardSettings {
  readonly head: HeadRule;
  /** How slow a request body may be before the upload is cut with 408. */
  readonly body: {
    /** No byte for this long (ms): 408. */
    readonly idleTimeout: number;
    /** Least average bytes per second over each idleTimeout; 0: none. */
    readonly minRate: number;
  };
}

/** How every head toward an origin is made (the gateway's HeadRules). */
export interface HeadRule {
  /** Pseudonym for Via, or null when Via is off. */
  readonly pseudonym: string | null;
  /** X-Forwarded-* and Forwarded: what is written, and what of the client's passes. */
  readonly forwarding: ForwardingHeaders;
  /** The client's fields (lower-case names) that never reach the origin from a peer so trusted. */
  notCopied(trusted: boolean): ReadonlySet<string>;
}

/**
 * Everything a configuration decides about a request's way: its routes,
 * policy, steps and header options. Built from a validated config and
 * swapped whole on a reload; an exchange keeps the generation it started
 * on until it ends. What outlives a configuration (listeners, registry,
 * ledger, telemetry) is the gateway's.
 */
export interface Generation {
  /** 1 at start, one more per reload. */
  readonly number: number;
  readonly config: GatewayConfig;
  readonly origins: ReadonlyMap<string, Origin>;
  readonly steps: readonly Step[];
  /**
   * What a request another proxy describes goes through (Gateway.check):
   * routing and admission. Its framing was the describing proxy's to read,
   * and it does not come through this gateway to loop or need an origin's health.
   */
  readonly checks: readonly Step[];
  /** How the gateway's own answers are signed (Via, Server). */
  readonly signature: Signature;
  /** How long, and how much, a refused body is read before its connection closes. */
  readonly linger: { readonly time: number; readonly bytes: number };
  readonly forward: ForwardSettings;
  /** The constraints that show clients a quota of their own (see Constraint.quota), in admission order. */
  readonly quotas: readonly Constraint[];
  /** The registry keys of the volumes this configuration names. */
  readonly volumeKeys: ReadonlySet<string>;
  /** Exchanges started on this generation that have not ended. */
  inFlight: number;
}

