import t, { type Test } from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { configFor, startTestGateway } from './helpers/gateway.js';
import { startRawOrigin } from './helpers/raw-origin.js';
import { converse, statusesOf, type Turn } from './helpers/redteam.js';
import type { Step } from '../src/exchange/step.js';

const CRLF = '\r\n';
const smuggled = `DELETE /victim HTTP/1.1${CRLF}Host: h${CRLF}${CRLF}`;
/** Refuses every PUT the way the storage guard does, so that no volume is needed. */
const refusePut: Step = ({ req }) =>
  req.method === 'PUT' ? { status: 507, error: 'insufficient_storage', detail: 'No room.', suggestedAction: 'Make room.' } : undefined;

async function rawSetup(t: Test) {
  const origin = await startRawOrigin();
  t.teardown(() => origin.close());
  const gateway = await startTestGateway(configFor(origin.url, { log: { level: 'silent' } }), [refusePut]);
  t.teardown(() => gateway.shutdown());
  return { origin, gateway };
}

/**
 * RFC 9112 §9.6: after the response that closes the connection, a server
 * MUST NOT process further requests on it. A refused `Expect: 100-continue`
 * is answered with Connection: close (Node decides it), and Node's parser
 * still reads the request pipelined behind the body in the same segment:
 * it must not run, or the origin runs a DELETE whose answer the client
 * never gets.
 */
t.test('no request after a refusal that closes the connection reaches the origin', async (t) => {
  const { origin, gateway } = await rawSetup(t);
  const raw = await converse(gateway.port, [
    `PUT /e HTTP/1.1${CRLF}Host: h${CRLF}Expect: 100-continue${CRLF}Content-Length: 4${CRLF}${CRLF}abcd${smuggled}`,
  ]);
  await gateway.shutdown();
  t.same(statusesOf(raw), [507], 'the client reads the 507 only');
  t.same(origin.requests.map((r) => r.target), [], 'the origin ran nothing, in particular not the DELETE');
});

t.test('after a refusal that closes the connection, nothing more is run (client-side close, body in any segment)', async (t) => {
  const { origin, gateway } = await rawSetup(t);
  const answered = (received: string): boolean => received.includes('\r\n\r\n');
  const put = (fields: string) => `PUT /e HTTP/1.1${CRLF}Host: h${CRLF}${fields}${CRLF}`;
  const cases: Array<[string, Turn[]]> = [
    ['Connection: close, body and DELETE in one segment', [put(`Connection: close${CRLF}Content-Length: 4${CRLF}`) + 'abcd' + smuggled]],
    ['Connection: close, body after the 507, then DELETE', [put(`Connection: close${CRLF}Content-Length: 4${CRLF}`), answered, 'abcd' + smuggled]],
    ['Connection: close, chunked body after the 507, then DELETE', [put(`Connection: close${CRLF}Transfer-Encoding: chunked${CRLF}`), answered, `4${CRLF}abcd${CRLF}0${CRLF}${CRLF}` + smuggled]],
    ['refused Expect, the client (rightly) sends no body but the next request', [put(`Expect: 100-continue${CRLF}Content-Length: ${smuggled.length}${CRLF}`), answered, smuggled, smuggled]],
  ];
  for (const [name, turns] of cases) {
    const raw = await converse(gateway.port, turns);
    t.same(statusesOf(raw), [507], `${name}: the client reads the 507 only`);
  }
  await gateway.shutdown();
  t.equal(origin.bytes, 0, 'zero bytes on the origin');
});

t.test('a refused keep-alive upload: its body is read to its end and the next request is served', async (t) => {
  const { origin, gateway } = await rawSetup(t);
  const raw = await converse(gateway.port, [`PUT /e HTTP/1.1${CRLF}Host: h${CRLF}Content-Length: ${smuggled.length}${CRLF}${CRLF}`, smuggled, `GET /next HTTP/1.1${CRLF}Host: h${CRLF}Connection: close${CRLF}${CRLF}`]);
  t.same(statusesOf(raw), [507, 200]);
  t.same(origin.requests.map((r) => r.target), ['/next'], 'the body was discarded, never read as a request');
});

/**
 * With pipelining, a chunk-syntax error in a later request must be answered
 * in its turn — never as a raw 400 written into the response still
 * streaming to an earlier request — and the PUT it broke is answered as
 * what it is.
 */
t.test('a parser error in a pipelined request never writes into an earlier response', async (t) => {
  const aborted: string[] = [];
  let slowFinish: (() => void) | null = null;
  const server = http.createServer((req, res) => {
    req.on('aborted', () => aborted.push(`${req.method} ${req.url}`));
    if (req.url === '/slow') {
      res.writeHead(200, { 'content-length': '20' });
      res.write('0123456789');
      slowFinish = () => res.end('abcdefghij');
    } else if (req.method === 'PUT') req.resume().on('end', () => res.end('put'));
    else res.end('fast');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const gateway = await startTestGateway(configFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { log: { level: 'info' }, listen: { drainTimeout: '1s' } }));
  t.teardown(() => gateway.shutdown());
  let raw = '';
  const talk: Promise<string> = converse(gateway.port, [
    `GET /a HTTP/1.1${CRLF}Host: h${CRLF}${CRLF}GET /slow HTTP/1.1${CRLF}Host: h${CRLF}${CRLF}PUT /e HTTP/1.1${CRLF}Host: h${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}4${CRLF}abcd${CRLF}`,
    () => slowFinish !== null && gateway.logLines.some((l) => l.msg === 'access' && l.path === '/a'),
    `zz${CRLF}broken${CRLF}`, // a chunk-size line that does not parse
    () => gateway.logLines.some((l) => l.msg === 'refused at the parser'),
    () => {
      (slowFinish as (() => void) | null)?.();
      return true;
    },
  ]).then((r) => (raw = r));
  await talk;
  const slow = /HTTP\/1\.1 200 OK\r\ncontent-length: 20\r\n[\s\S]*?\r\n\r\n([\s\S]{0,20})/.exec(raw)?.[1];
  t.equal(slow, '0123456789abcdefghij', '/slow’s body arrived whole, nothing written into it');
  t.notOk(/0123456789HTTP\/1\.1 400/.test(raw), 'no 400 inside the body of /slow');
});
