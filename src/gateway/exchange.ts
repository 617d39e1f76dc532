import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Route } from './route-table.js';

/** Why an upstream exchange failed, as the gateway classifies it. */
export type UpstreamFailure = 'connect_timeout' | 'timeout' | 'refused' | 'reset' | 'error';

/**
 * One request's way through the gateway. Steps read and fill it; the
 * exchange's end (the response's `close`) is where everything is settled.
 */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  /** The client sent `Expect: 100-continue` and is waiting for our word. */
  readonly expectsContinue: boolean;
  /** The request target's path (without query), in origin-form. */
  path: string;
  route: Route | null;
  upstreamFailure: UpstreamFailure | null;
}

export function createExchange(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Exchange {
  return { req, res, startedAt: performance.now(), expectsContinue, path: '', route: null, upstreamFailure: null };
}
