import t from 'tap';
import { gatewayFor } from './helpers/gateway.js';
import { rawExchange, request } from './helpers/http.js';
import { otlpReceiver } from './helpers/otlp-receiver.js';
import { startRawOrigin } from './helpers/raw-origin.js';

// X-Request-ID: kept when the client's is an id, made otherwise; the origin,
// the access line and the span carry the same one.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

t.test('a request without X-Request-ID reaches the origin with one; the access line and the span carry it', async (t) => {
  const receiver = await otlpReceiver(t);
  const origin = await startRawOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url, { telemetry: { traces: { exporter: 'otlp', endpoint: receiver.url } } });

  await request(`${gateway.url}/a`);
  await request(`${gateway.url}/b`, { headers: { 'x-request-id': 'lb-7f3a:42' } });
  await request(`${gateway.url}/c`, { headers: { 'x-request-id': 'two words\tand a tab' } });
  await gateway.shutdown();

  const sent = origin.requests.map((r) => r.fields.filter(([name]) => name.toLowerCase() === 'x-request-id').map(([, value]) => value));
  t.equal(sent.length, 3);
  t.equal(sent[0]!.length, 1, 'exactly one X-Request-ID reaches the origin');
  t.match(sent[0]![0], UUID, 'made here when the client sent none');
  t.same(sent[1], ['lb-7f3a:42'], 'a client’s id (a load balancer’s, say) is kept');
  t.match(sent[2]![0], UUID, 'what is not an id is replaced, not passed on');
  t.notSame(sent[0], sent[2], 'each exchange has its own');

  const access = gateway.logLines.filter((l) => l.msg === 'access');
  t.same(access.map((l) => l.requestId), sent.map((s) => s[0]), 'the access lines carry the ids the origin got');
  const servers = receiver.spans.filter((s) => s.kind === 2);
  t.same(servers.map((s) => s.attributes['http.request.header.x-request-id']).sort(), sent.map((s) => s[0]).sort(), 'so do the spans');
});

t.test('on a raw socket: two X-Request-ID lines reach the origin as one new id, never both', async (t) => {
  const origin = await startRawOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url);
  await rawExchange(gateway.port, 'GET /a HTTP/1.1\r\nHost: files\r\nX-Request-ID: first\r\nX-Request-ID: second\r\nConnection: close\r\n\r\n');
  const fields = origin.requests[0]!.fields.filter(([name]) => name.toLowerCase() === 'x-request-id');
  t.equal(fields.length, 1, 'one field line');
  t.match(fields[0]![1], UUID, 'a new id: which of the two was meant is not the gateway’s guess');
});
