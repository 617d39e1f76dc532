import type { ServerResponse } from 'node:http';
import { renderProblem, type GatewayConfig, type Problem, type Refused } from '../../src/index.js';

/**
 * nginx's auth_request understands 2xx, 401 and 403 (anything else is its
 * own 500). A question carrying `X-Headroom-Refusal: 403` gets every
 * refusal as a 403 that names the real answer: X-Headroom-Status, and
 * X-Headroom-Problem (the problem, base64url JSON), which the snippet's
 * refused location hands back to the answer path to be sent as Headroom
 * would have sent it. Nothing is kept between the two requests, so the
 * answer may come from any instance of the endpoint.
 */
export const REFUSAL_HEADER = 'x-headroom-refusal';
export const PROBLEM_HEADER = 'x-headroom-problem';
export const ANSWER_PATH = '/.headroom/answer';

/** A refusal, or the endpoint's own problem, in the form the proxy asked for. */
export function sendRefusal(res: ServerResponse, refusal: Refused | Problem, accept: string | undefined, asForbidden: boolean, config: GatewayConfig): void {
  const problem = 'allowed' in refusal ? refusal.problem : refusal;
  if (asForbidden) {
    res.writeHead(403, { 'X-Headroom-Status': String(problem.status), 'X-Headroom-Problem': encodeProblem(problem), 'Cache-Control': 'no-store', 'Content-Length': 0 });
    res.end();
  } else if ('allowed' in refusal) {
    refusal.send(res, accept);
  } else {
    sendProblem(res, problem, accept, config);
  }
}

/** The answer path: the problem a 403 named, sent as the client's answer. */
export function sendNamedAnswer(res: ServerResponse, encoded: string | undefined, accept: string | undefined, config: GatewayConfig): void {
  const problem = encoded === undefined ? null : decodeProblem(encoded);
  sendProblem(res, problem ?? noAnswer(encoded === undefined), accept, config);
}

export function encodeProblem(problem: Problem): string {
  const { status, error, detail, suggestedAction, retryAfter, members } = problem;
  return Buffer.from(JSON.stringify({ status, error, detail, suggestedAction, retryAfter, members })).toString('base64url');
}

/** The problem a 403 named; null unless it is one (a refusal: 4xx or 5xx, never an allow). */
export function decodeProblem(encoded: string): Problem | null {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const p = value as Record<string, unknown>;
  const text = (v: unknown): v is string => typeof v === 'string';
  if (!Number.isInteger(p.status) || (p.status as number) < 400 || (p.status as number) > 599) return null;
  if (!text(p.error) || !text(p.detail) || !text(p.suggestedAction)) return null;
  if (p.retryAfter !== undefined && typeof p.retryAfter !== 'number') return null;
  if (p.members !== undefined && !isMembers(p.members)) return null;
  return { status: p.status as number, error: p.error, detail: p.detail, suggestedAction: p.suggestedAction, retryAfter: p.retryAfter as number | undefined, members: p.members as Problem['members'] };
}

function isMembers(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Object.values(v).every((m) => m === null || typeof m === 'string' || typeof m === 'number');
}

/** As the gateway signs its own answers: Via, Server, no caching, Retry-After. */
function sendProblem(res: ServerResponse, problem: Problem, accept: string | undefined, config: GatewayConfig): void {
  const { contentType, body } = renderProblem(problem, accept);
  const headers: Record<string, string | number> = {};
  if (config.via.enabled) headers['Via'] = `1.1 ${config.via.pseudonym}`;
  headers['Server'] = config.headers.server;
  headers['Cache-Control'] = 'no-store';
  if (problem.retryAfter !== undefined) headers['Retry-After'] = String(problem.retryAfter);
  headers['Content-Type'] = contentType;
  headers['Content-Length'] = body.length;
  res.writeHead(problem.status, headers);
  res.end(body);
}

function noAnswer(absent: boolean): Problem {
  return {
    status: 502,
    error: 'decision_answer_missing',
    detail: `The proxy refused the request on Headroom’s word but passed ${absent ? 'no' : 'an unreadable'} X-Headroom-Problem to the answer path, so the refusal’s own answer is lost.`,
    suggestedAction: 'Check the refused location of the proxy’s snippet: it must pass the auth_request_set variable of X-Headroom-Problem.',
  };
}
