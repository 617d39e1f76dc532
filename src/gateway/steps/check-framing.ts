import type { Problem } from '../../http/problem.js';
import type { Step } from '../step.js';

// Node's parser already answers 400 to conflicting Content-Length and
// Transfer-Encoding, repeated or malformed Content-Length, bad request lines
// and header syntax, and 431 to oversized heads (see client-error.ts). What
// it lets through, and an origin could read differently, is refused here.

const badRequest = (detail: string): Problem => ({
  status: 400,
  error: 'bad_request',
  detail,
  suggestedAction: 'Fix the request; it was not forwarded.',
});

export const checkFraming: Step = ({ req }) => {
  if (req.httpVersionMajor !== 1) {
    return {
      status: 505,
      error: 'http_version_not_supported',
      detail: `HTTP/${req.httpVersion} is not supported here.`,
      suggestedAction: 'Send the request as HTTP/1.1.',
    };
  }
  const te = req.headers['transfer-encoding'];
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
    return {
      status: 501,
      error: 'transfer_coding_not_implemented',
      detail: `Transfer-Encoding "${te}" is not supported; only "chunked" is.`,
      suggestedAction: 'Send the body with Content-Length or Transfer-Encoding: chunked.',
    };
  }
  let hosts = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  if (hosts > 1) return badRequest('The request carries more than one Host header.');
  if (hosts === 0 && req.httpVersionMinor >= 1) return badRequest('An HTTP/1.1 request must carry a Host header.');
  return undefined;
};
