import type { IncomingMessage } from 'node:http';
import { SIZE_HEADERS } from '../../decision/write-facts.js';
import { connectionNames } from '../../http/hop-by-hop.js';
import type { Problem } from '../../http/problem.js';
import type { Step } from '../../exchange/step.js';

// Node's parser already answers 400 to conflicting Content-Length and
// Transfer-Encoding, repeated or malformed Content-Length, bad request lines,
// header syntax and chunk syntax, and 431 to oversized heads (see
// client-error.ts). What it lets through, and an origin could read
// differently, is refused here.

/** Fields that mean one thing: two of them are two readings of one request. */
const SINGLE: ReadonlySet<string> = new Set(['host', 'destination', 'overwrite', 'content-range', 'depth', ...SIZE_HEADERS]);

/** Fields the gateway judges a request by: a Connection header may not make them hop-by-hop. */
const END_TO_END: ReadonlySet<string> = new Set([...SINGLE, 'content-length', 'transfer-encoding']);

const badRequest = (detail: string): Problem => ({
  status: 400,
  error: 'bad_request',
  detail,
  suggestedAction: 'Fix the request; it was not forwarded.',
});

/** The framing and head checks of the door, for a gateway reading at most `maxHeaders` fields. */
export function checkFraming(maxHeaders: number): Step {
  return ({ req }) => {
    if (req.httpVersionMajor !== 1) {
      return {
        status: 505,
        error: 'http_version_not_supported',
        detail: `HTTP/${req.httpVersion} is not supported here.`,
        suggestedAction: 'Send the request as HTTP/1.1.',
      };
    }
    // Node keeps only part of a very long head in req.headers while its
    // parser still frames the body by the rest: refuse rather than judge a part.
    if (req.rawHeaders.length / 2 > maxHeaders) {
      return {
        status: 431,
        error: 'request_header_fields_too_large',
        detail: `The request carries more than ${maxHeaders} header fields.`,
        suggestedAction: 'Send fewer header fields.',
      };
    }
    const te = req.headers['transfer-encoding'];
    // RFC 9112 §6.1: an HTTP/1.0 hop in front may not know chunking, and
    // would read the chunks as the next request.
    if (te !== undefined && req.httpVersionMinor === 0) {
      return { ...badRequest('An HTTP/1.0 request cannot carry Transfer-Encoding; send the body with Content-Length.'), closes: true };
    }
    if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
      return {
        status: 501,
        error: 'transfer_coding_not_implemented',
        detail: `Transfer-Encoding "${te}" is not supported; only "chunked" is.`,
        suggestedAction: 'Send the body with Content-Length or Transfer-Encoding: chunked.',
      };
    }
    const repeated = repeatedField(req);
    if (repeated !== null) return badRequest(`The request carries more than one ${repeated} header.`);
    if (req.headers.host === undefined && req.httpVersionMinor >= 1) return badRequest('An HTTP/1.1 request must carry a Host header.');
    const connection = req.headers.connection;
    if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') {
      for (const field of connectionNames(connection)) {
        if (END_TO_END.has(field)) return badRequest(`The Connection header names ${field}, which is part of the request itself and cannot be dropped at a hop.`);
      }
    }
    const expect = req.headers.expect;
    if (expect !== undefined && expect.toLowerCase() !== '100-continue') {
      return {
        status: 417,
        error: 'expectation_failed',
        detail: `Expect "${expect}" is not supported; only "100-continue" is.`,
        suggestedAction: 'Send the request without that Expect header.',
      };
    }
    return undefined;
  };
}

/** The lengths of the SINGLE names: a field of any other length is none of them, with no lower-case copy made. */
const SINGLE_LENGTHS: ReadonlySet<number> = new Set([...SINGLE].map((name) => name.length));

function repeatedField(req: IncomingMessage): string | null {
  const raw = req.rawHeaders;
  // Nearly every request carries one of these fields (Host): a second look
  // only when some name comes twice.
  let first: string | null = null;
  let seen: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (!SINGLE_LENGTHS.has(raw[i]!.length)) continue;
    const lower = raw[i]!.toLowerCase();
    if (!SINGLE.has(lower)) continue;
    if (first === null) {
      first = lower;
      continue;
    }
    seen ??= new Set([first]);
    if (seen.has(lower)) return raw[i]!;
    seen.add(lower);
  }
  return null;
}
