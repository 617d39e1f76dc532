import t from 'tap';
import { configFor, startTestGateway } from './helpers/gateway.js';
import { startRawOrigin } from './helpers/raw-origin.js';
import { converse, statusesOf } from './helpers/redteam.js';

const CRLF = '\r\n';
const smuggled = `DELETE /victim HTTP/1.1${CRLF}Host: h${CRLF}${CRLF}`;

/**
 * RFC 9112 §6.1: a server that receives an HTTP/1.0 message with
 * Transfer-Encoding MUST treat its framing as faulty and close the
 * connection after it. HTTP/1.0 has no chunked coding; a front that speaks
 * it (or ignores Transfer-Encoding in a 1.0 message, as the RFC says one
 * may) frames such a request by its Content-Length or as having no body, and
 * what the gateway reads as chunks is, to that front, the next request. The
 * gateway reads the chunks and keeps the connection for more.
 */
t.test('an HTTP/1.0 request with Transfer-Encoding: refused or the last on its connection', async (t) => {
  const origin = await startRawOrigin();
  t.teardown(() => origin.close());
  const gateway = await startTestGateway(configFor(origin.url, { log: { level: 'silent' } }));
  t.teardown(() => gateway.shutdown());
  const raw = await converse(gateway.port, [
    `POST /e HTTP/1.0${CRLF}Host: h${CRLF}Connection: keep-alive${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}4${CRLF}abcd${CRLF}0${CRLF}${CRLF}${smuggled}`,
  ]);
  await gateway.shutdown();
  t.ok(statusesOf(raw).length <= 1, `one answer at most (got ${statusesOf(raw).join(', ')})`);
  t.notOk(origin.requests.some((r) => r.target === '/victim'), 'nothing after it was run');
});

t.test('HTTP/1.0: keep-alive with a Content-Length body, and a request without Host', async (t) => {
  const origin = await startRawOrigin();
  t.teardown(() => origin.close());
  const gateway = await startTestGateway(configFor(origin.url, { log: { level: 'silent' } }));
  t.teardown(() => gateway.shutdown());
  const raw = await converse(gateway.port, [
    `POST /e HTTP/1.0${CRLF}Host: h${CRLF}Connection: keep-alive${CRLF}Content-Length: ${smuggled.length}${CRLF}${CRLF}${smuggled}GET /f HTTP/1.0${CRLF}${CRLF}`,
  ]);
  await gateway.shutdown();
  t.same(statusesOf(raw), [200, 200]);
  t.same(origin.requests.map((r) => [r.target, r.framing, r.body.toString('latin1')]), [['/e', 'length', smuggled], ['/f', 'none', '']], 'the body stayed a body; the host-less 1.0 request went on as one request');
  t.same(origin.garbage, []);
});
