import t from 'tap';
import { configFor, startTestGateway } from './helpers/gateway.js';
import { startRawOrigin } from './helpers/raw-origin.js';
import { converse, statusesOf } from './helpers/redteam.js';

/**
 * Requests that ask to switch protocols. Node's parser stops at the end of
 * such a request's head (llhttp's paused upgrade) and hands the socket over;
 * without an 'upgrade' listener the rest of that read used to vanish, and
 * the next segment was parsed from its first byte as a request: a POST's
 * body ran as a DELETE. The gateway now refuses a switch with 501, after the
 * requests before it on the connection are answered, and reads nothing
 * after it.
 */

const CRLF = '\r\n';
const smuggled = `DELETE /victim HTTP/1.1${CRLF}Host: h${CRLF}${CRLF}`;

t.test('an Upgrade request is refused with 501; nothing after it on the connection is run, and no byte reaches the origin', async (t) => {
  const origin = await startRawOrigin();
  t.teardown(() => origin.close());
  const gateway = await startTestGateway(configFor(origin.url, { log: { level: 'silent' } }));
  t.teardown(() => gateway.shutdown());
  const raw = await converse(gateway.port, [
    // One segment: an upgrade request, then the head of a POST whose body is a DELETE.
    `GET /e HTTP/1.1${CRLF}Host: h${CRLF}Connection: Upgrade${CRLF}Upgrade: websocket${CRLF}${CRLF}` +
      `POST /upload HTTP/1.1${CRLF}Host: h${CRLF}Content-Length: ${smuggled.length}${CRLF}${CRLF}`,
    smuggled, // the POST's body, in a second segment
  ]);
  await gateway.shutdown();
  t.same(statusesOf(raw), [501], 'one answer: 501');
  t.match(raw, /upgrade_not_supported/);
  t.equal(origin.bytes, 0, 'zero bytes on the origin: not the GET, not the POST, not its body as a DELETE');
});

t.test('requests before an Upgrade on the same connection are answered first, in order', async (t) => {
  const origin = await startRawOrigin();
  t.teardown(() => origin.close());
  const gateway = await startTestGateway(configFor(origin.url, { log: { level: 'silent' } }));
  t.teardown(() => gateway.shutdown());
  for (const [name, framing, body] of [
    ['Content-Length', `Content-Length: ${smuggled.length}`, smuggled],
    ['chunked', 'Transfer-Encoding: chunked', `${smuggled.length.toString(16)}${CRLF}${smuggled}${CRLF}0${CRLF}${CRLF}`],
  ] as const) {
    const before = origin.requests.length;
    const raw = await converse(gateway.port, [`POST /e HTTP/1.1${CRLF}Host: h${CRLF}${framing}${CRLF}${CRLF}${body}GET /ws HTTP/1.1${CRLF}Host: h${CRLF}Connection: Upgrade${CRLF}Upgrade: websocket${CRLF}${CRLF}`]);
    const seen = origin.requests.slice(before);
    t.same(statusesOf(raw), [200, 501], `${name}: the POST's answer, then the refusal`);
    t.same(seen.map((r) => [r.target, r.body.toString('latin1')]), [['/e', smuggled]], `${name}: the origin read the POST with its body, and nothing else`);
  }
  t.same(origin.garbage, [], 'nothing the origin could not parse');
});

t.test('CONNECT is refused with 501 and never forwarded', async (t) => {
  const origin = await startRawOrigin();
  t.teardown(() => origin.close());
  const gateway = await startTestGateway(configFor(origin.url, { log: { level: 'silent' } }));
  t.teardown(() => gateway.shutdown());
  const raw = await converse(gateway.port, [`CONNECT h:80 HTTP/1.1${CRLF}Host: h:80${CRLF}${CRLF}${smuggled}`]);
  await gateway.shutdown();
  t.same(statusesOf(raw), [501]);
  t.match(raw, /connect_not_supported/);
  t.equal(origin.bytes, 0, 'zero bytes on the origin');
});
