import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Span } from '@opentelemetry/api';
import type { Decision } from '../decision/decision.js';
import type { Hold } from './constraint.js';
import type { Landing } from '../headroom/landings.js';
import type { Problem } from '../http/problem.js';
import type { RequestTarget } from '../http/request-target.js';
import type { Generation } from './generation.js';
import type { Route } from './route.js';
import { requestIdOf } from '../http/request-id.js';

/** Where a COPY or MOVE puts its result. */
export interface Destination {
  readonly route: Route;
  /** Normalised as routes are matched (dot segments removed, unreserved characters decoded). */
  readonly path: string;
  /** The Destination header as the client sent it; forwarded unchanged. */
  readonly raw: string;
}

/** Why an upstream exchange failed, as the gateway classifies it. */
export type UpstreamFailure = 'connect_timeout' | 'timeout' | 'refused' | 'reset' | 'error';

/**
 * One request's way through the gateway. Steps read and fill it; its end
 * (see `onEnd`) is where everything it holds is settled.
 */
export class Exchange {
  /** `performance.now()` when the request arrived. */
  readonly startedAt = performance.now();
  /** X-Request-ID: the client's when it is one, else made here; sent to the origin, logged, on the span. */
  readonly requestId: string;
  /** The request target as read at the door (set by the routing step). */
  target: RequestTarget | null = null;
  /** The Host forwarded: the client's, or an absolute-form target's authority. */
  authority = '';
  /** The normalised path routes were matched on ('' before routing). */
  path = '';
  #route: Route | null = null;
  /**
   * For COPY and MOVE: the route and normalised path their `Destination`
   * names, set by the routing step (which refuses a Destination that does
   * not parse, or that routes to another origin). Null for other methods.
   */
  destination: Destination | null = null;
  /** The storage guard's decision, for a write. */
  decision: Decision | null = null;
  /**
   * The constraint that refused the exchange and its error code, when one
   * did (the guard's refusals are also in `decision`, with their reason).
   */
  refusal: { readonly constraint: string; readonly error: string } | null = null;
  /** The volume the decision was about. */
  volume: string | null = null;
  /** The request had already passed this gateway (Via). */
  loop = false;
  /** `performance.now()` when the request went to the origin. */
  forwardedAt = 0;
  /** Milliseconds from forwarding to the start of the origin's response; null until it answers. */
  upstreamMs: number | null = null;
  /** The SERVER span, when tracing is on. */
  span: Span | null = null;
  /** The CLIENT span of the upstream exchange, while it is open. */
  clientSpan: Span | null = null;
  /** The request toward the origin, once it has a connection. */
  upstreamRequest: ClientRequest | null = null;
  upstreamFailure: UpstreamFailure | null = null;
  /** Why the gateway stopped the upload mid-stream; answered in place of a 502. */
  cutReason: Problem | null = null;

  readonly #onEnd: Array<() => void> = [];
  /** What admitted constraints hold on the exchange, in admission order (none for most: reads hold nothing). */
  #holds: Hold[] | null = null;
  /** A hold's chunk may answer later (see Hold.mayPause). */
  #mayPause = false;
  #ended = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** The client sent `Expect: 100-continue` and is waiting for our word. */
    readonly expectsContinue: boolean,
    /** The configuration the exchange runs on to its end, whatever a reload swaps in meanwhile. */
    readonly generation: Generation,
    /** The listener it arrived on; a retiring one closes connections after their answers. */
    readonly listener: { readonly retiring: boolean },
  ) {
    this.requestId = requestIdOf(req.headers['x-request-id']);
  }

  get ended(): boolean {
    return this.#ended;
  }

  get route(): Route | null {
    return this.#route;
  }

  /** Set by the routing step; the exchange counts among its origin's until it ends (see Origin.exchanges). */
  set route(route: Route | null) {
    if (this.#route && !this.#ended) this.#route.origin.exchanges--;
    this.#route = route;
    if (route && !this.#ended) route.origin.exchanges++;
  }

  /**
   * What admission made of the exchange, for logs, metrics and traces: the
   * guard's decision, unless a later constraint refused what it admitted
   * (then `reject`, with that constraint's error code as the reason).
   */
  get admission(): { readonly decision: string; readonly reason: string; readonly constraint: string | null } | null {
    const { decision, refusal } = this;
    if (refusal !== null && decision?.verdict !== 'reject') return { decision: 'reject', reason: refusal.error, constraint: refusal.constraint };
    if (decision !== null) return { decision: decision.verdict, reason: decision.reason, constraint: refusal?.constraint ?? null };
    return null;
  }

  get mayPause(): boolean {
    return this.#mayPause;
  }

  /** A constraint admitted the exchange with `hold`: it sees the body, the origin's status and the end. */
  hold(hold: Hold): void {
    if (this.#ended) return void hold.end(); // the client left while the constraint decided
    (this.#holds ??= []).push(hold);
    if (hold.mayPause) this.#mayPause = true;
  }

  /**
   * A body chunk of `bytes` is about to go to the origin: each hold sees it
   * in turn, until one cuts the upload. A promise when a hold has yet to
   * answer: the chunk goes (or not) once it settles.
   */
  chunk(bytes: number): void | Promise<void> {
    return this.#chunkFrom(0, bytes);
  }

  #chunkFrom(from: number, bytes: number): void | Promise<void> {
    const holds = this.#holds;
    if (holds === null) return;
    for (let i = from; i < holds.length; i++) {
      if (this.cutReason) return;
      const waiting = holds[i]!.chunk?.(bytes);
      if (waiting) return waiting.then(() => this.#chunkFrom(i + 1, bytes));
    }
  }

  /** The first hold that can wait for a snapshot to show the write landed (see Hold.landing); null when none can. */
  landing(): Landing | null {
    if (this.#holds !== null) for (const hold of this.#holds) {
      const landing = hold.landing?.() ?? null;
      if (landing !== null) return landing;
    }
    return null;
  }

  /** The origin's response started. */
  originStatus(status: number): void {
    if (this.#holds !== null) for (const hold of this.#holds) hold.originStatus?.(status);
  }

  /**
   * Runs `settle` once when the exchange ends — answered, failed, aborted,
   * or dropped with its connection before it ran. Where what an exchange
   * holds (a reservation, a timer) is given back.
   */
  onEnd(settle: () => void): void {
    if (this.#ended) settle();
    else this.#onEnd.push(settle);
  }

  /**
   * The exchange is over; called by the gateway, once per way it can end
   * (only the first counts). Every constraint's hold is settled here,
   * first — before the connection starts its next exchange — then what
   * was registered with `onEnd`, the last first.
   */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#route) this.#route.origin.exchanges--;
    const holds = this.#holds;
    this.#holds = null;
    if (holds !== null) for (const hold of holds) hold.end();
    for (let i = this.#onEnd.length - 1; i >= 0; i--) this.#onEnd[i]!();
  }

  /**
   * Stops the upload toward the origin mid-body: the origin sees an
   * incomplete request, never a short complete one. What the client still
   * sends is read and dropped by the answer's lingering close.
   */
  cut(reason: Problem): void {
    if (this.cutReason) return;
    this.cutReason = reason;
    this.upstreamRequest?.destroy(new Error(`upload stopped by the gateway: ${reason.error}`));
    this.req.unpipe();
    this.req.resume();
  }
}
