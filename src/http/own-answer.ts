import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { renderProblem, type Problem } from './problem.js';

/** How the gateway signs what it answers itself. */
export interface Signature {
  /** This gateway's Via entry for the answer, or null when Via is off. */
  readonly via: string | null;
  readonly server: string;
}

/**
 * Writes a problem as the response to `req`. Keep-alive framing is kept on
 * purpose: a client still sending a body reads the answer more reliably when
 * the connection is not closed under it (see linger.ts).
 */
export function sendProblem(req: IncomingMessage, res: ServerResponse, problem: Problem, signature: Signature): void {
  const { contentType, body } = renderProblem(problem, req.headers.accept);
  // One object for writeHead rather than a setHeader call per header: the
  // refusal is the hot path of a full origin.
  const headers: OutgoingHttpHeaders = {};
  if (signature.via) headers['Via'] = signature.via;
  headers['Server'] = signature.server;
  headers['Cache-Control'] = 'no-store';
  if (problem.retryAfter !== undefined) headers['Retry-After'] = String(problem.retryAfter);
  headers['Content-Type'] = contentType;
  headers['Content-Length'] = body.length;
  res.writeHead(problem.status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Answers on a bare socket, for requests Node's parser rejected before any
 * request object existed; the connection is closed after it.
 */
export function sendProblemOnSocket(socket: Socket, problem: Problem, signature: Signature): void {
  const { contentType, body } = renderProblem(problem, undefined);
  const head = [
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? 'Error'}`,
    ...(signature.via ? [`Via: ${signature.via}`] : []),
    `Server: ${signature.server}`,
    'Cache-Control: no-store',
    `Content-Type: ${contentType}`,
    `Content-Length: ${body.length}`,
    'Connection: close',
    '',
    '',
  ].join('\r\n');
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
}
