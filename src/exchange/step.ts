import type { Problem } from '../http/problem.js';
import type { Exchange } from './exchange.js';

/**
 * One step of a request's way: it either lets the request go on
 * (`undefined`) or answers it with a problem. Steps run in order, before any
 * `100 Continue` is sent and before any byte goes to an origin.
 */
export type Step = (exchange: Exchange) => Problem | undefined | Promise<Problem | undefined>;
