import t from 'tap';
import { configFor, startTestGateway } from './helpers/gateway.js';
import { rawExchange } from './helpers/http.js';
import { startRawOrigin } from './helpers/raw-origin.js';

/**
 * Framing-shaped requests over raw sockets, each against a fresh gateway in
 * front of an origin that reads requests strictly and logs every byte. For
 * every entry: the origin read exactly the requests the gateway forwarded —
 * no request smuggled in a body, no body sent unframed, nothing it could not
 * parse — and a refused entry put zero bytes on the origin.
 */

interface Entry {
  readonly name: string;
  readonly bytes: string;
  /** Complete requests the origin must read, in order: target and body. */
  readonly forwarded: ReadonlyArray<readonly [target: string, body: string]>;
  /** Statuses the client must read, in order (the origin answers 200). */
  readonly statuses: readonly number[];
}

const CRLF = '\r\n';
const head = (line: string, fields: readonly string[]): string => `${line}${CRLF}${fields.map((f) => f + CRLF).join('')}${CRLF}`;
/** A request to /<path> on host h, closing the connection after it unless told otherwise. */
const req = (method: string, path: string, fields: readonly string[] = [], body = ''): string =>
  head(`${method} ${path} HTTP/1.1`, ['Host: h', ...fields]) + body;
const last = (method: string, path: string, fields: readonly string[] = [], body = ''): string => req(method, path, [...fields, 'Connection: close'], body);
const chunk = (data: string): string => `${data.length.toString(16)}${CRLF}${data}${CRLF}`;
const chunked = (...parts: string[]): string => parts.map(chunk).join('') + `0${CRLF}${CRLF}`;
const smuggled = 'DELETE /victim HTTP/1.1\r\nHost: h\r\n\r\n';
const many = (n: number): string[] => Array.from({ length: n }, (_, i) => `X-F${i}: v`);

const entries: Entry[] = [
  // Content-Length and Transfer-Encoding together, and their obfuscations.
  { name: 'CL then TE', bytes: last('POST', '/e', ['Content-Length: 4', 'Transfer-Encoding: chunked'], chunked('abcd')), forwarded: [], statuses: [400] },
  { name: 'TE then CL', bytes: last('POST', '/e', ['Transfer-Encoding: chunked', 'Content-Length: 4'], chunked('abcd')), forwarded: [], statuses: [400] },
  { name: 'TE: chunked with trailing space', bytes: last('POST', '/e', ['Transfer-Encoding: chunked '], chunked('abcd')), forwarded: [['/e', 'abcd']], statuses: [200] },
  { name: 'TE: Chunked (case)', bytes: last('POST', '/e', ['Transfer-Encoding: Chunked'], chunked('abcd')), forwarded: [['/e', 'abcd']], statuses: [200] },
  { name: 'TE: chunked, chunked', bytes: last('POST', '/e', ['Transfer-Encoding: chunked, chunked'], chunked('abcd')), forwarded: [], statuses: [400] },
  { name: 'TE: gzip, chunked', bytes: last('POST', '/e', ['Transfer-Encoding: gzip, chunked'], chunked('abcd')), forwarded: [], statuses: [501] },
  { name: 'two TE fields', bytes: last('POST', '/e', ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], chunked('abcd')), forwarded: [], statuses: [400] },
  { name: 'TE: identity', bytes: last('POST', '/e', ['Transfer-Encoding: identity', 'Content-Length: 4'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'TE: xchunked', bytes: last('POST', '/e', ['Transfer-Encoding: xchunked'], chunked('abcd')), forwarded: [], statuses: [501] },
  { name: 'TE: chunked;q=1', bytes: last('POST', '/e', ['Transfer-Encoding: chunked;q=1'], chunked('abcd')), forwarded: [], statuses: [501] },
  { name: 'TE folded onto the next line', bytes: last('POST', '/e', ['Transfer-Encoding:', ' chunked'], chunked('abcd')), forwarded: [], statuses: [400] },
  { name: 'space before the colon', bytes: last('POST', '/e', ['Transfer-Encoding : chunked'], chunked('abcd')), forwarded: [], statuses: [400] },
  { name: 'TE name with a vertical tab', bytes: last('POST', '/e', ['\x0bTransfer-Encoding: chunked'], chunked('abcd')), forwarded: [], statuses: [400] },
  { name: 'TE value with a vertical tab', bytes: last('POST', '/e', ['Transfer-Encoding: \x0bchunked'], chunked('abcd')), forwarded: [], statuses: [400] },
  { name: 'Transfer_Encoding is not framing: its body is a malformed next request; the first is answered, then a 400, and the connection closes', bytes: req('POST', '/e', ['Transfer_Encoding: chunked']) + chunked('abcd'), forwarded: [['/e', '']], statuses: [200, 400] },
  // Content-Length: duplicate and malformed.
  { name: 'two equal CL fields', bytes: last('POST', '/e', ['Content-Length: 4', 'Content-Length: 4'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'two different CL fields', bytes: last('POST', '/e', ['Content-Length: 4', 'Content-Length: 40'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'CL: 4, 4', bytes: last('POST', '/e', ['Content-Length: 4, 4'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'CL: +4', bytes: last('POST', '/e', ['Content-Length: +4'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'CL: -1', bytes: last('POST', '/e', ['Content-Length: -1'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'CL: 0x4', bytes: last('POST', '/e', ['Content-Length: 0x4'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'CL: 4 4', bytes: last('POST', '/e', ['Content-Length: 4 4'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'CL beyond 2^64', bytes: last('POST', '/e', ['Content-Length: 99999999999999999999999'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'CL with surrounding spaces', bytes: last('POST', '/e', ['Content-Length:   4  '], 'abcd'), forwarded: [['/e', 'abcd']], statuses: [200] },
  { name: 'CL with a leading zero', bytes: last('POST', '/e', ['Content-Length: 04'], 'abcd'), forwarded: [['/e', 'abcd']], statuses: [200] },
  { name: 'a body longer than its CL: the rest is a malformed next request: a 400 after the answer, and the connection closes', bytes: req('POST', '/e', ['Content-Length: 4'], 'abcdXYZ\r\n\r\n'), forwarded: [['/e', 'abcd']], statuses: [200, 400] },
  { name: 'a CL body carrying a request: one request with that body', bytes: last('POST', '/e', [`Content-Length: ${smuggled.length}`], smuggled), forwarded: [['/e', smuggled]], statuses: [200] },
  // Chunk syntax.
  { name: 'chunk size overflow', bytes: last('POST', '/e', ['Transfer-Encoding: chunked'], `ffffffffffffffffffff${CRLF}abcd${CRLF}0${CRLF}${CRLF}`), forwarded: [], statuses: [400] },
  { name: 'chunk size 0x4', bytes: last('POST', '/e', ['Transfer-Encoding: chunked'], `0x4${CRLF}abcd${CRLF}0${CRLF}${CRLF}`), forwarded: [], statuses: [400] },
  { name: 'chunk size with a leading space', bytes: last('POST', '/e', ['Transfer-Encoding: chunked'], ` 4${CRLF}abcd${CRLF}0${CRLF}${CRLF}`), forwarded: [], statuses: [400] },
  { name: 'chunk size ended by a bare LF', bytes: last('POST', '/e', ['Transfer-Encoding: chunked'], `4\nabcd${CRLF}0${CRLF}${CRLF}`), forwarded: [], statuses: [400] },
  { name: 'chunk data longer than its size', bytes: last('POST', '/e', ['Transfer-Encoding: chunked'], `2${CRLF}abcd${CRLF}0${CRLF}${CRLF}`), forwarded: [], statuses: [400] },
  { name: 'chunk data not ended by CRLF', bytes: last('POST', '/e', ['Transfer-Encoding: chunked'], `4${CRLF}abcdXX0${CRLF}${CRLF}`), forwarded: [], statuses: [400] },
  { name: 'chunk extension', bytes: last('POST', '/e', ['Transfer-Encoding: chunked'], `4;name=value${CRLF}abcd${CRLF}0${CRLF}${CRLF}`), forwarded: [['/e', 'abcd']], statuses: [200] },
  { name: 'trailer fields', bytes: last('POST', '/e', ['Transfer-Encoding: chunked'], `4${CRLF}abcd${CRLF}0${CRLF}X-Trailer: 1${CRLF}${CRLF}`), forwarded: [['/e', 'abcd']], statuses: [200] },
  { name: 'a chunked body carrying a request: one request with that body', bytes: last('POST', '/e', ['Transfer-Encoding: chunked'], chunked(smuggled)), forwarded: [['/e', smuggled]], statuses: [200] },
  // Bodies on methods that rarely carry one: forwarded framed, never unframed.
  { name: 'chunked DELETE carrying a DELETE', bytes: last('DELETE', '/e', ['Transfer-Encoding: chunked'], chunked(smuggled)), forwarded: [['/e', smuggled]], statuses: [200] },
  { name: 'chunked OPTIONS carrying a DELETE', bytes: last('OPTIONS', '/e', ['Transfer-Encoding: chunked'], chunked(smuggled)), forwarded: [['/e', smuggled]], statuses: [200] },
  { name: 'chunked GET carrying a DELETE', bytes: last('GET', '/e', ['Transfer-Encoding: chunked'], chunked(smuggled)), forwarded: [['/e', smuggled]], statuses: [200] },
  { name: 'GET with a CL body carrying a DELETE', bytes: last('GET', '/e', [`Content-Length: ${smuggled.length}`], smuggled), forwarded: [['/e', smuggled]], statuses: [200] },
  { name: 'DELETE with a CL body', bytes: last('DELETE', '/e', ['Content-Length: 4'], 'abcd'), forwarded: [['/e', 'abcd']], statuses: [200] },
  { name: 'OPTIONS with a CL body carrying a DELETE', bytes: last('OPTIONS', '/e', [`Content-Length: ${smuggled.length}`], smuggled), forwarded: [['/e', smuggled]], statuses: [200] },
  { name: 'HEAD with a CL body', bytes: last('HEAD', '/e', ['Content-Length: 4'], 'abcd'), forwarded: [['/e', 'abcd']], statuses: [200] },
  { name: 'chunked DELETE over several chunks', bytes: last('DELETE', '/e', ['Transfer-Encoding: chunked'], chunked('DELETE /vic', 'tim HTTP/1.1\r\n', 'Host: h\r\n\r\n')), forwarded: [['/e', smuggled]], statuses: [200] },
  // Connection naming the fields the request is framed and judged by.
  { name: 'Connection: content-length', bytes: last('DELETE', '/e', ['Connection: content-length', `Content-Length: ${smuggled.length}`], smuggled), forwarded: [], statuses: [400] },
  { name: 'Connection: Content-Length (case)', bytes: last('PUT', '/e', ['Connection: Content-Length', 'Content-Length: 4'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'Connection: close, content-length', bytes: req('PUT', '/e', ['Connection: close, content-length', 'Content-Length: 4'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'Connection: transfer-encoding', bytes: last('PUT', '/e', ['Connection: transfer-encoding', 'Transfer-Encoding: chunked'], chunked('abcd')), forwarded: [], statuses: [400] },
  { name: 'Connection: host', bytes: last('GET', '/e', ['Connection: host']), forwarded: [], statuses: [400] },
  { name: 'Connection: destination', bytes: last('COPY', '/e', ['Connection: destination', 'Destination: /f']), forwarded: [], statuses: [400] },
  { name: 'Connection: content-range', bytes: last('PUT', '/e', ['Connection: content-range', 'Content-Range: bytes 0-3/8', 'Content-Length: 4'], 'abcd'), forwarded: [], statuses: [400] },
  { name: 'Connection: a private field is dropped, the request passes', bytes: last('GET', '/e', ['Connection: x-private', 'X-Private: 1']), forwarded: [['/e', '']], statuses: [200] },
  // Long header lists.
  { name: 'as many fields as read (100)', bytes: last('GET', '/e', many(98)), forwarded: [['/e', '']], statuses: [200] },
  { name: 'one field more than read (101)', bytes: last('GET', '/e', many(99)), forwarded: [], statuses: [431] },
  { name: 'TE past the 1,000th field', bytes: last('POST', '/e', [...many(1000), 'Transfer-Encoding: chunked'], chunked(smuggled)), forwarded: [], statuses: [431] },
  { name: 'CL past the 1,000th field', bytes: last('DELETE', '/e', [...many(1000), `Content-Length: ${smuggled.length}`], smuggled), forwarded: [], statuses: [431] },
  { name: 'a head larger than maxHeaderSize', bytes: last('GET', '/e', [`X-Big: ${'a'.repeat(20_000)}`]), forwarded: [], statuses: [431] },
  // Line endings, folding and bytes that do not belong in a head.
  { name: 'bare LF line endings', bytes: 'GET /e HTTP/1.1\nHost: h\nConnection: close\n\n', forwarded: [], statuses: [400] },
  { name: 'a field line ended by a bare LF', bytes: `GET /e HTTP/1.1${CRLF}Host: h\nX-A: 1${CRLF}Connection: close${CRLF}${CRLF}`, forwarded: [], statuses: [400] },
  { name: 'a bare CR inside a value', bytes: last('GET', '/e', ['X-A: a\rb']), forwarded: [], statuses: [400] },
  { name: 'a NUL inside a value', bytes: last('GET', '/e', ['X-A: a\x00b']), forwarded: [], statuses: [400] },
  { name: 'obs-fold of an ordinary field', bytes: last('GET', '/e', ['X-A: a', ' b']), forwarded: [], statuses: [400] },
  { name: 'a space inside a field name', bytes: last('GET', '/e', ['X A: b']), forwarded: [], statuses: [400] },
  { name: 'an empty field name', bytes: last('GET', '/e', [': b']), forwarded: [], statuses: [400] },
  { name: 'two Host fields', bytes: last('GET', '/e', ['Host: other']), forwarded: [], statuses: [400] },
  { name: 'HTTP/1.1 without Host', bytes: `GET /e HTTP/1.1${CRLF}Connection: close${CRLF}${CRLF}`, forwarded: [], statuses: [400] },
  { name: 'HTTP/2.0 on the request line', bytes: `GET /e HTTP/2.0${CRLF}Host: h${CRLF}${CRLF}`, forwarded: [], statuses: [505] },
  { name: 'an HTTP/0.9 request line', bytes: `GET /e${CRLF}${CRLF}`, forwarded: [], statuses: [505] },
  // Targets.
  { name: 'absolute-form: reduced to origin-form, Host from it', bytes: head('GET http://h/e?q=1 HTTP/1.1', ['Host: other', 'Connection: close']), forwarded: [['/e?q=1', '']], statuses: [200] },
  { name: 'a fragment in the target', bytes: last('DELETE', '/e/#x'), forwarded: [], statuses: [400] },
  { name: 'a backslash in the target', bytes: last('GET', '/e\\x'), forwarded: [], statuses: [400] },
  // Expect, and several requests on one connection.
  { name: 'Expect: 100-continue with the body sent at once', bytes: last('PUT', '/e', ['Expect: 100-continue', 'Content-Length: 4'], 'abcd'), forwarded: [['/e', 'abcd']], statuses: [100, 200] },
  { name: 'Expect: something else', bytes: last('PUT', '/e', ['Expect: 200-ok', 'Content-Length: 4'], 'abcd'), forwarded: [], statuses: [417] },
  { name: 'two pipelined requests', bytes: req('GET', '/e') + last('GET', '/f'), forwarded: [['/e', ''], ['/f', '']], statuses: [200, 200] },
  { name: 'pipelined after a chunked DELETE', bytes: req('DELETE', '/e', ['Transfer-Encoding: chunked'], chunked('x')) + last('GET', '/f'), forwarded: [['/e', 'x'], ['/f', '']], statuses: [200, 200] },
  { name: 'hop-by-hop fields stop here', bytes: last('GET', '/e', ['Upgrade: h2c', 'TE: trailers', 'Trailer: X-T', 'Keep-Alive: timeout=5', 'Proxy-Connection: keep-alive']), forwarded: [['/e', '']], statuses: [200] },
];

const statusesOf = (raw: string): number[] => [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

t.test(`${entries.length} framing-shaped requests: the origin reads exactly what the gateway forwarded`, async (t) => {
  t.ok(entries.length >= 60, `${entries.length} entries`);
  for (const entry of entries) {
    const origin = await startRawOrigin();
    const gateway = await startTestGateway(configFor(origin.url, { log: { level: 'silent' } }));
    try {
      const raw = await rawExchange(gateway.port, Buffer.from(entry.bytes, 'latin1'), 300);
      await gateway.shutdown();
      const seen = origin.requests.map((r) => [r.target, r.body.toString('latin1')] as const);
      t.same(statusesOf(raw), entry.statuses, `${entry.name}: the client reads ${entry.statuses.join(', ') || 'nothing'}`);
      t.same(seen, entry.forwarded, `${entry.name}: the origin read ${entry.forwarded.length} request(s), framed as the gateway parsed them`);
      t.same(origin.garbage, [], `${entry.name}: nothing the origin could not parse`);
      t.notOk(origin.requests.some((r) => r.target === '/victim'), `${entry.name}: no smuggled request`);
      if (entry.forwarded.length === 0) t.equal(origin.bytes, 0, `${entry.name}: refused, zero bytes on the origin`);
    } finally {
      await gateway.shutdown();
      await origin.close();
    }
  }
});
