import http from 'node:http';
import { once } from 'node:events';
import t, { type Test } from 'tap';
import { readOriginal, type ReadingOptions } from '../plugins/decide/original-request.js';
import { leaseTime, LeaseBook } from '../plugins/decide/lease.js';
import { readEndSignal } from '../plugins/decide/end-signals.js';
import { decodeProblem, encodeProblem, sendNamedAnswer } from '../plugins/decide/answers.js';
import { configFor } from './helpers/gateway.js';
import { rawExchange, request, statusOf, until } from './helpers/http.js';
import type { Problem, Ticket } from '../src/index.js';

/** A server that answers what readOriginal made of each question, as JSON. */
async function reader(t: Test, options: ReadingOptions = { requestLinePrefix: null }): Promise<number> {
  const server = http.createServer();
  server.on('checkContinue', (req, res) => server.emit('request', req, res));
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const read = readOriginal(req, options);
    const body = JSON.stringify(read);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  return (server.address() as { port: number }).port;
}

const ask = async (port: number, head: string): Promise<Record<string, any>> => {
  const raw = await rawExchange(port, `GET /.headroom/decide HTTP/1.1\r\nHost: headroom_decide\r\nConnection: close\r\n${head}\r\n`, 300);
  if (statusOf(raw) !== 200) throw new Error(`the reader answered ${raw}`);
  return JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
};

t.test('reads nginx’s X-Original-* and Caddy’s X-Forwarded-*, with the size', async (t) => {
  const port = await reader(t);
  const nginx = await ask(port, 'X-Original-Method: PUT\r\nX-Original-URI: /dav/a%20b.txt?x=1\r\nX-Original-Host: files.example\r\nX-Original-Content-Length: 5000\r\nAuthorization: Basic YTpi\r\nAccept: text/html\r\n');
  t.match(nginx.request, { method: 'PUT', target: '/dav/a%20b.txt?x=1', host: 'files.example', headers: { 'content-length': '5000', authorization: 'Basic YTpi', accept: 'text/html' } });
  t.equal(nginx.declaredBytes, 5000);
  t.notOk('x-original-method' in nginx.request.headers, 'the description is not passed on as a header');
  t.notOk('transfer-encoding' in nginx.request.headers);

  const caddy = await ask(port, 'X-Forwarded-Method: POST\r\nX-Forwarded-Uri: /up\r\nX-Forwarded-Host: files.example\r\nX-Original-Content-Length: 3\r\nExpect: 100-continue\r\n');
  t.match(caddy.request, { method: 'POST', target: '/up', host: 'files.example', headers: { 'content-length': '3' } });
  t.notOk('expect' in caddy.request.headers);
});

t.test('no size, or chunked: unknown length; a size header of a chunked upload is its declared size', async (t) => {
  const port = await reader(t);
  const silent = await ask(port, 'X-Forwarded-Method: PUT\r\nX-Forwarded-Uri: /up\r\nX-Original-Content-Length: \r\n');
  t.equal(silent.declaredBytes, null, 'an empty variable says nothing: not a 0-byte write');
  t.equal(silent.request.headers['transfer-encoding'], 'chunked');
  t.notOk('content-length' in silent.request.headers);
  const chunked = await ask(port, 'X-Original-Method: PUT\r\nX-Original-URI: /up\r\nX-Original-Transfer-Encoding: chunked\r\nOC-Total-Length: 7000\r\n');
  t.equal(chunked.declaredBytes, 7000);
  t.equal(chunked.request.headers['oc-total-length'], '7000');
  const zero = await ask(port, 'X-Original-Method: MKCOL\r\nX-Original-URI: /c/\r\nX-Original-Content-Length: 0\r\n');
  t.equal(zero.declaredBytes, 0);
});

t.test('anything that reads two ways is a 400, never a guess', async (t) => {
  const port = await reader(t);
  const cases: Array<[string, string, RegExp]> = [
    ['two methods that disagree', 'X-Original-Method: PUT\r\nX-Forwarded-Method: POST\r\nX-Original-URI: /a\r\n', /disagree/],
    ['a method sent twice', 'X-Original-Method: PUT\r\nX-Original-Method: GET\r\nX-Original-URI: /a\r\n', /sent 2 times/],
    ['a list for a method', 'X-Forwarded-Method: PUT, GET\r\nX-Forwarded-Uri: /a\r\n', /not one method/],
    ['no method', 'X-Original-URI: /a\r\n', /original method/],
    ['no URI', 'X-Original-Method: PUT\r\n', /request target/],
    ['a URI that does not parse', 'X-Original-Method: PUT\r\nX-Original-URI: a b\r\n', /not a request target/],
    ['a URI that is not a path', 'X-Original-Method: PUT\r\nX-Original-URI: dav/a\r\n', /not a request target/],
    ['two URIs', 'X-Original-Method: PUT\r\nX-Original-URI: /a\r\nX-Forwarded-Uri: /b\r\n', /disagree/],
    ['hosts that disagree', 'X-Original-Method: PUT\r\nX-Original-URI: /a\r\nX-Original-Host: a\r\nX-Forwarded-Host: b\r\n', /disagree/],
    ['a host list', 'X-Forwarded-Method: PUT\r\nX-Forwarded-Uri: /a\r\nX-Forwarded-Host: a, b\r\n', /list/],
    ['a size that is not digits', 'X-Original-Method: PUT\r\nX-Original-URI: /a\r\nX-Original-Content-Length: 12k\r\n', /not a size/],
    ['a size and chunked', 'X-Original-Method: PUT\r\nX-Original-URI: /a\r\nX-Original-Content-Length: 1\r\nX-Original-Transfer-Encoding: chunked\r\n', /both/],
    ['two sizes', 'X-Original-Method: PUT\r\nX-Original-URI: /a\r\nX-Original-Content-Length: 1\r\nX-Original-Content-Length: 1000000\r\n', /sent 2 times/],
  ];
  for (const [name, head, detail] of cases) {
    const read = await ask(port, head);
    t.match(read, { status: 400, error: 'ambiguous_original_request', detail }, name);
  }
});

t.test('Envoy: the request line, after the configured prefix; without the option, no method is a 400', async (t) => {
  const envoy = await reader(t, { requestLinePrefix: '/decide' });
  const raw = await rawExchange(envoy, 'PUT /decide/dav/x?y=1 HTTP/1.1\r\nHost: files.example\r\nContent-Length: 0\r\nX-Original-Content-Length: 9\r\nConnection: close\r\n\r\n', 300);
  const read = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
  t.match(read.request, { method: 'PUT', target: '/dav/x?y=1', host: 'files.example', headers: { 'content-length': '9' } });
  const outside = await rawExchange(envoy, 'PUT /elsewhere HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 300);
  t.match(outside, /does not start with the configured prefix/);
  const plain = await reader(t);
  const refused = await rawExchange(plain, 'PUT /dav/x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 300);
  t.match(refused, /"status":400/);
});

t.test('a lease lasts the declared size at minRate, between its bounds', async (t) => {
  const timing = { minRate: 64 * 1024, min: 10_000, max: 900_000 };
  t.equal(leaseTime(4096, timing), 10_000);
  t.equal(leaseTime(64 * 1024 * 100, timing), 100_000);
  t.equal(leaseTime(100 * 1024 ** 3, timing), 900_000);
});

/** A ticket that records what is done with it. */
function recordingTicket(): Ticket & { calls: string[] } {
  const calls: string[] = [];
  return { calls, cut: null, chunk: (n) => void calls.push(`chunk ${n}`), originStatus: (s) => void calls.push(`status ${s}`), end: () => void calls.push('end'), landed: () => null };
}

t.test('a lease ends once — by its end signal or its time — counting the declared bytes as written first', async (t) => {
  const book = new LeaseBook({ minRate: 1024, min: 30, max: 60_000 });
  t.teardown(() => book.close());
  const signalled = recordingTicket();
  const id = book.open(signalled, 5);
  await book.end(id, 'signal', 201);
  await book.end(id, 'signal', 201);
  t.same(signalled.calls, ['status 201', 'chunk 5', 'end'], 'ended once, its bytes counted before the end');
  const timed = recordingTicket();
  book.open(timed, 10);
  t.equal(book.size, 1);
  await until(() => timed.calls.includes('end'), 'the lease to run out');
  t.same(timed.calls, ['chunk 10', 'end']);
  t.equal(book.size, 0);
  const open = recordingTicket();
  book.open(open, 1024 * 1024);
  await book.close();
  t.same(open.calls, [`chunk ${1024 * 1024}`, 'end'], 'closing ends every lease');
});

t.test('nginx’s mapping: the problem survives the round trip; the answer path never allows', async (t) => {
  const problem: Problem = { status: 507, error: 'insufficient_storage', detail: 'No room for “é”.', suggestedAction: 'Free space.', retryAfter: 60, members: { requested: 5000, volume: '/srv', quota_used: null } };
  t.same(decodeProblem(encodeProblem(problem)), problem);
  t.equal(decodeProblem(Buffer.from(JSON.stringify({ ...problem, status: 200 })).toString('base64url')), null, 'a 2xx is not a refusal');
  t.equal(decodeProblem('not base64 json'), null);
  t.match(encodeProblem(problem), /^[A-Za-z0-9_-]+$/, 'fits in a header');

  const config = configFor('http://127.0.0.1:1');
  const server = http.createServer((req, res) => sendNamedAnswer(res, req.headers['x-headroom-problem'] as string | undefined, req.headers.accept, config));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/.headroom/answer`;
  const answer = await request(url, { headers: { 'x-headroom-problem': encodeProblem(problem) } });
  t.equal(answer.status, 507);
  t.equal(answer.headers['content-type'], 'application/problem+json');
  t.equal(answer.headers['retry-after'], '60');
  t.equal(answer.headers.server, 'headroom');
  t.match(answer.headers.via, /headroom-1/);
  t.match(JSON.parse(answer.body.toString()), { status: 507, error: 'insufficient_storage', requested: 5000, suggested_action: 'Free space.' });
  const html = await request(url, { headers: { 'x-headroom-problem': encodeProblem(problem), accept: 'text/html' } });
  t.match(html.headers['content-type'], /text\/html/);
  const lost = await request(url);
  t.equal(lost.status, 502);
  t.match(JSON.parse(lost.body.toString()), { error: 'decision_answer_missing' });
});


t.test('a syslog end signal is read from the end of the line; anything else is no signal', async (t) => {
  const id = '0b5f4c1e-9d3a-4f5e-8a7b-1c2d3e4f5a6b';
  t.same(readEndSignal(`<190>Dec  1 21:00:00 headroom: lease=${id} status="201"`, ''), { id, originStatus: 201 });
  t.same(readEndSignal(`lease=${id} status="502, 507"`, ''), { id, originStatus: 507 }, 'after a retry, the last figure is the origin’s answer');
  t.same(readEndSignal(`lease=${id} status="-"`, ''), { id, originStatus: undefined }, 'no origin answer');
  t.same(readEndSignal(`lease=${id} status="201" token=s3cret`, 's3cret'), { id, originStatus: 201 });
  for (const [line, token] of [
    [`lease=${id} status="201" token=s3cret`, ''],
    [`lease=${id} status="201"`, 's3cret'],
    [`lease=${id} status="201" token=s3cre`, 's3cret'],
    [`lease=${id} status="201" token=s3cret extra`, 's3cret'],
    [`lease=${id}x status="201"`, ''],
    [`lease=${id} status="201`, ''],
    ['lease=- status="201"', ''],
    ['', ''],
  ] as const) t.equal(readEndSignal(line, token), null, JSON.stringify(line));
});
