import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { timingSafeEqual } from 'node:crypto';
import type { PluginContext, Problem } from '../../src/index.js';
import { ANSWER_PATH, PROBLEM_HEADER, REFUSAL_HEADER, sendNamedAnswer, sendRefusal } from './answers.js';
import { originStatusOf, type LeaseBook } from './lease.js';
import { isProblem, readOriginal, type ReadingOptions } from './original-request.js';

/** Where a proxy of the user's own says an allowed write is over: `DELETE /.headroom/leases/<id>` (nginx sends its end signals by syslog: end-signals.ts). */
export const LEASES_PATH = '/.headroom/leases/';
const LEASE_HEADER = 'X-Headroom-Lease';

export interface EndpointDependencies {
  readonly context: PluginContext;
  readonly leases: LeaseBook;
  readonly reading: () => ReadingOptions;
  /** The token every question must carry in X-Headroom-Token; '' for none. */
  readonly token: () => string;
}

const TOKEN_HEADER = 'x-headroom-token';

/**
 * Answers the proxy's questions on any path: 204 (with the lease's id)
 * allows the write, a refusal carries the gateway's own status and body.
 * Besides, the nginx snippet's two helpers: the answer path, which sends
 * a refusal a 403 named, and the end of a lease.
 */
export function answerQuestions({ context, leases, reading, token }: EndpointDependencies): http.RequestListener {
  return (req, res) => {
    if (!tokenAllows(req, token())) return sendRefusal(res, notAllowed(), req.headers.accept, req.headers[REFUSAL_HEADER] === '403', context.config());
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0]!;
    const accept = req.headers.accept;
    if (path === ANSWER_PATH) return sendNamedAnswer(res, req.headers[PROBLEM_HEADER] as string | undefined, accept, context.config());
    if (req.method === 'DELETE' && path.startsWith(LEASES_PATH)) return endLease(req, res, leases, path.slice(LEASES_PATH.length));
    void decide(req, res, { context, leases, reading });
  };
}

async function decide(req: IncomingMessage, res: ServerResponse, { context, leases, reading }: Omit<EndpointDependencies, 'token'>): Promise<void> {
  const asForbidden = req.headers[REFUSAL_HEADER] === '403';
  const original = readOriginal(req, reading());
  const config = context.config();
  if (isProblem(original)) return sendRefusal(res, original, req.headers.accept, asForbidden, config);
  const accept = original.request.headers.accept as string | undefined;
  let verdict;
  try {
    verdict = await context.check(original.request);
  } catch (err) {
    context.logger.error({ err }, 'decide: the check failed');
    return sendRefusal(res, checkFailed(), accept, asForbidden, config);
  }
  if (!verdict.allowed) return sendRefusal(res, verdict, accept, asForbidden, config);
  // The proxy gave up on its question: nothing will be sent.
  if (res.destroyed || !config.policy.writeMethods.includes(original.request.method)) {
    verdict.ticket.end();
  } else {
    const id = leases.open(verdict.ticket, original.declaredBytes ?? config.policy.unknownLength);
    res.setHeader(LEASE_HEADER, id);
  }
  res.writeHead(204, { 'Cache-Control': 'no-store' });
  res.end();
}

function endLease(req: IncomingMessage, res: ServerResponse, leases: LeaseBook, id: string): void {
  leases.end(decodeURIComponent(id), 'signal', originStatusOf(String(req.headers['x-headroom-origin-status'] ?? ''))).catch(() => undefined);
  res.writeHead(204);
  res.end();
}

/** With a token set, a request carries it exactly once (a second one is someone's guess, passed on by the proxy). */
function tokenAllows(req: IncomingMessage, token: string): boolean {
  if (token === '') return true;
  const given = req.headersDistinct[TOKEN_HEADER];
  if (given?.length !== 1) return false;
  const a = Buffer.from(given[0]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function notAllowed(): Problem {
  return {
    status: 401,
    error: 'decision_not_allowed',
    detail: 'This decision endpoint answers only the proxy that carries its token (X-Headroom-Token).',
    suggestedAction: 'Set the decide plugin’s token in the proxy’s configuration, as docs/decision-endpoint.md shows.',
  };
}

function checkFailed(): Problem {
  return {
    status: 503,
    error: 'decision_failed',
    detail: 'The decision endpoint could not judge the request. Nothing was allowed.',
    suggestedAction: 'Retry later; if it persists, the gateway’s log says why.',
    retryAfter: 5,
  };
}

/** The endpoint's listener: questions need no body, and a 100 Continue from here would reach the client through Caddy. */
export async function listen(handler: http.RequestListener, host: string, port: number): Promise<http.Server> {
  const server = http.createServer({ keepAliveTimeout: 120_000, headersTimeout: 10_000, requestTimeout: 30_000 }, handler);
  // Longer than nginx's and Caddy's idle upstream connections, so the proxy never reuses one this side just closed.
  server.keepAliveTimeout = 120_000;
  server.on('checkContinue', handler);
  server.on('checkExpectation', handler);
  server.listen(port, host);
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
  } catch (err) {
    throw new Error(`decide: cannot listen on ${host}:${port}: ${(err as Error).message}`);
  }
  return server;
}

export const addressOf = (server: http.Server): AddressInfo => server.address() as AddressInfo;

export async function closeServer(server: http.Server): Promise<void> {
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  server.closeAllConnections();
  await closed;
}
