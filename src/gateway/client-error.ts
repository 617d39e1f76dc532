import type { Socket } from 'node:net';
import type { Problem } from '../http/problem.js';

/**
 * The answer to a request Node's HTTP parser refused before any handler ran
 * (malformed request line or headers, conflicting lengths, oversized head),
 * or null when there is nobody left to answer.
 */
export function clientErrorProblem(err: NodeJS.ErrnoException, socket: Socket): Problem | null {
  // The client left, or closed its side mid-request: nobody to answer.
  if (err.code === 'ECONNRESET' || err.code === 'HPE_INVALID_EOF_STATE' || !socket.writable) return null;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      error: 'request_header_fields_too_large',
      detail: 'The request head is larger than this gateway accepts.',
      suggestedAction: 'Send fewer or smaller headers (large cookies are the usual cause).',
    };
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // A connection that never sent a byte asked nothing: closed unanswered, as nginx does.
    if (socket.bytesRead === 0) return null;
    return {
      status: 408,
      error: 'request_timeout',
      detail: 'The request head did not arrive in time; the connection is closed.',
      suggestedAction: 'Retry the request.',
    };
  }
  const reason = err.message.replace(/^Parse Error: /, '');
  return {
    status: 400,
    error: 'bad_request',
    detail: `The request is malformed: ${reason}.`,
    suggestedAction: 'Fix the request; it was not forwarded.',
    members: { parser_error: err.code ?? null },
  };
}
