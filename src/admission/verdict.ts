import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Problem } from '../http/problem.js';

/**
 * A request another proxy is about to forward, as it describes it to
 * Headroom (the decision endpoint, a middleware): judged as if it had
 * arrived at the gateway itself.
 */
export interface DescribedRequest {
  readonly method: string;
  /** The request target as the client sent it: `/path?query`, or an absolute URI. */
  readonly target: string;
  /** The Host the client asked for. */
  readonly host: string;
  /** The client's header fields (lower-case names): size headers, Authorization, Destination, X-Request-ID. */
  readonly headers: IncomingHttpHeaders;
  /** The address the request came from (the proxy's peer), for `trustedProxies`. */
  readonly remoteAddress?: string;
}

/** What admission made of a described request. */
export type Verdict = Allowed | Refused;

export interface Allowed {
  readonly allowed: true;
  /** What every constraint holds for the write until `ticket.end()`; reads and unjudged requests hold nothing. */
  readonly ticket: Ticket;
}

export interface Refused {
  readonly allowed: false;
  /** The gateway's own answer: status, error code, figures. */
  readonly problem: Problem;
  /** Sends the answer as the gateway would (media type by the request's Accept; Via, Server, Retry-After). */
  send(res: ServerResponse, accept?: string): void;
}

/**
 * The room an allowed write holds. Whoever moves the body tells it what
 * passes, and ends it exactly once when the exchange is over, however it
 * ends; until then the room stays held.
 */
export interface Ticket {
  /**
   * `bytes` of the body are about to go to the origin. A promise: wait for
   * it before sending them. Afterwards `cut` says whether they may go.
   */
  chunk(bytes: number): void | Promise<void>;
  /** Why the upload must stop before the bytes just offered (a body of unknown length outgrew the room); null while it may go on. */
  readonly cut: Problem | null;
  /** The origin's response started with `status` (a 507 marks the volume full). */
  originStatus(status: number): void;
  /** The exchange is over: what is held is given back, what passed counts as written. */
  end(): void;
  /**
   * For a proxy that cannot say when the body has been sent: settles when
   * a snapshot of the write's volume shows its declared bytes landed
   * (docs/decision-endpoint.md#leases-how-an-allowed-write-ends) — then end the ticket. Null where no
   * snapshot can tell: a body of unknown length, no figures yet, or a
   * ledger shared with other processes (replicas, workers), whose writes
   * the volume's growth would mix in. It never settles once the ticket ended.
   */
  landed(): Promise<void> | null;
}
