import { randomUUID } from 'node:crypto';

/** What an id another hop (a load balancer, a client library) made may look like to be kept. */
const KEPT = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * The exchange's request id: the client's `X-Request-ID` when it is one
 * (visible characters an id is made of, and short), else a new UUID — as
 * nginx's `$request_id` and Envoy's `x-request-id`. Anything else the
 * client sent under that name is replaced, never passed on: it lands in
 * logs and in the origin's.
 */
export function requestIdOf(given: string | string[] | undefined): string {
  return typeof given === 'string' && KEPT.test(given) ? given : randomUUID();
}
