import t from 'tap';
import { originBehindGateway } from './helpers/gateway.js';
import { rawExchange, statusOf } from './helpers/http.js';

// Requests an origin could frame differently from the gateway (smuggling)
// or that are malformed: each is answered by the gateway, none forwarded.
const cases: Array<[string, string, number]> = [
  ['Content-Length with Transfer-Encoding', 'PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 400],
  ['two different Content-Lengths', 'PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', 400],
  ['a Content-Length list', 'PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!', 400],
  ['a negative Content-Length', 'PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400],
  ['Transfer-Encoding twice', 'PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['a transfer coding other than chunked', 'PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 501],
  ['a malformed request line', 'GARBAGE\r\n\r\n', 400],
  ['a bad HTTP version', 'GET /a HTTP/1.x\r\nHost: x\r\n\r\n', 400],
  ['HTTP/2.0 over HTTP/1 framing', 'GET /a HTTP/2.0\r\nHost: x\r\n\r\n', 505],
  ['whitespace in a header name', 'GET /a HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n', 400],
  ['an obsolete line folding', 'GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n', 400],
  ['two Host headers', 'GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', 400],
  ['no Host header in HTTP/1.1', 'GET /a HTTP/1.1\r\n\r\n', 400],
  ['an oversized head', `GET /a HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ['a request target that is not a path or URL', 'GET foo HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['an unsupported Expect', 'PUT /a HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 5\r\n\r\nhello', 417],
];

t.test('malformed and smuggling-shaped requests are answered by the gateway and never forwarded', async (t) => {
  const { origin, gateway } = await originBehindGateway(t);
  for (const [name, raw, status] of cases) {
    const answer = await rawExchange(gateway.port, raw, 300);
    t.equal(statusOf(answer), status, `${name}: ${status}`);
    t.match(answer, /\r\nVia: 1\.1 headroom-1\r\n/i, `${name}: the answer carries Via`);
    t.match(answer, /\r\nContent-Type: application\/problem\+json\r\n/i, `${name}: problem+json`);
  }
  t.equal(origin.stats.connections, 0, 'the origin was never even connected to');
  t.equal(origin.stats.requests, 0, 'the origin counted zero requests');
});

t.test('an absolute-form request target is routed by its authority and forwarded in origin-form', async (t) => {
  const { origin, gateway } = await originBehindGateway(t);
  const answer = await rawExchange(gateway.port, 'OPTIONS http://files.example/a?x=1 HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n');
  t.equal(statusOf(answer), 200);
  t.equal(origin.stats.requests, 1);
});
