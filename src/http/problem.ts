import { STATUS_CODES } from 'node:http';
import Negotiator from 'negotiator';
import { escapeHtml } from './html.js';

/**
 * An answer the gateway makes itself (docs/admission.md, “What a client sees”). What to say is decided by
 * whoever refuses; how it is said — media type, headers — is decided here.
 */
export interface Problem {
  readonly status: number;
  /** Machine-readable code, e.g. `loop_detected`. */
  readonly error: string;
  /** What happened to this request, for a person. */
  readonly detail: string;
  /** What the user can do about it. */
  readonly suggestedAction: string;
  /** Seconds; sent as Retry-After and `retry_after`. */
  readonly retryAfter?: number;
  /** After this answer the connection cannot carry another request (its framing is in doubt): it closes. */
  readonly closes?: boolean;
  /** Extension members: `quota_available`, `origin`, `volume`, … */
  readonly members?: Readonly<Record<string, string | number | null>>;
}

export interface RenderedProblem {
  readonly contentType: string;
  readonly body: Buffer;
}

const PROBLEM_JSON = 'application/problem+json';
const JSON_TYPE = 'application/json';
const HTML = 'text/html';
const OFFERED = [PROBLEM_JSON, JSON_TYPE, HTML];

/** The RFC 9457 object; the same members are sent as problem+json and as JSON. */
function problemObject(problem: Problem): Record<string, unknown> {
  // Filled member by member rather than spread: this runs for every refusal.
  const object: Record<string, unknown> = {
    type: `urn:headroom:problem:${problem.error}`,
    title: STATUS_CODES[problem.status] ?? 'Error',
    status: problem.status,
    detail: problem.detail,
    error: problem.error,
    message: problem.detail,
  };
  const members = problem.members;
  if (members) for (const name in members) object[name] = members[name];
  if (problem.retryAfter !== undefined) object.retry_after = problem.retryAfter;
  object.suggested_action = problem.suggestedAction;
  return object;
}

/** Renders by `Accept`: problem+json unless the client prefers HTML or plain JSON. */
export function renderProblem(problem: Problem, accept: string | undefined): RenderedProblem {
  // Most clients (curl, SDKs) send no Accept or `*/*`: no negotiation to do.
  const type = accept === undefined || accept === '' || accept === '*/*' ? PROBLEM_JSON : new Negotiator({ headers: { accept } }).mediaType(OFFERED);
  if (type === HTML) return { contentType: 'text/html; charset=utf-8', body: Buffer.from(html(problem)) };
  const contentType = type === JSON_TYPE ? JSON_TYPE : PROBLEM_JSON;
  return { contentType, body: Buffer.from(JSON.stringify(problemObject(problem)) + '\n') };
}


function html(problem: Problem): string {
  const title = `${problem.status} ${STATUS_CODES[problem.status] ?? 'Error'}`;
  const rows = Object.entries(problem.members ?? {})
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}
th{text-align:left;padding-right:1rem;font-weight:600}code{background:#f3f3f3;padding:0 .2em}</style></head>
<body><h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(problem.detail)}</p>
<p><strong>What you can do:</strong> ${escapeHtml(problem.suggestedAction)}</p>
${rows ? `<table>${rows}</table>` : ''}
<p><small>Answered by the gateway (<code>${escapeHtml(problem.error)}</code>).</small></p>
</body></html>
`;
}
