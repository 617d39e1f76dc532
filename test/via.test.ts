import t from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { appendVia, viaHasPseudonym } from '../src/http/via.js';
import { gatewayFor } from './helpers/gateway.js';
import { request } from './helpers/http.js';

t.test('via helpers', async (t) => {
  t.equal(appendVia(undefined, '1.1 h'), '1.1 h');
  t.equal(appendVia('1.0 fred', '1.1 h'), '1.0 fred, 1.1 h');
  t.equal(appendVia(['1.0 a', '1.1 b'], '1.1 h'), '1.0 a, 1.1 b, 1.1 h');
  t.ok(viaHasPseudonym('1.0 fred, 1.1 headroom-1', 'headroom-1'));
  t.ok(viaHasPseudonym('1.1 HEADROOM-1 (comment)', 'headroom-1'), 'pseudonyms compare case-insensitively');
  t.notOk(viaHasPseudonym('1.1 headroom-10', 'headroom-1'), 'a longer pseudonym is another hop');
  t.notOk(viaHasPseudonym('1.1 fred (via headroom-1)', 'headroom-1'), 'a comment is not a hop');
  t.notOk(viaHasPseudonym(undefined, 'headroom-1'));
});

/** An origin that records the headers it receives and answers with a Via of its own. */
async function recordingOrigin(): Promise<{ url: string; seen: http.IncomingHttpHeaders[]; requests: () => number; close: () => Promise<void> }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { via: '1.1 origin-x', 'keep-alive': 'timeout=99', connection: 'keep-alive, x-private', 'x-private': 'secret', 'content-length': '2' });
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    requests: () => seen.length,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

t.test('Via is appended both ways and hop-by-hop headers stop at the gateway', async (t) => {
  const origin = await recordingOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url);
  const reply = await request(`${gateway.url}/x?q=1`, {
    headers: {
      via: '1.0 fred',
      connection: 'keep-alive, x-hop',
      'x-hop': 'must not pass',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      'x-forwarded-for': '203.0.113.7',
      'x-end-to-end': 'passes',
    },
  });
  t.equal(reply.status, 200);
  const sent = origin.seen[0]!;
  t.equal(sent.via, '1.0 fred, 1.1 headroom-1', 'request Via keeps the incoming entry and appends ours');
  t.equal(sent['x-hop'], undefined, 'a header named in Connection is not forwarded');
  t.equal(sent['keep-alive'], undefined);
  t.equal(sent.te, undefined);
  t.equal(sent['proxy-authorization'], undefined);
  t.equal(sent['x-end-to-end'], 'passes');
  t.equal(sent['x-forwarded-for'], '127.0.0.1', 'X-Forwarded-For from an untrusted client is replaced (see forwarding.test.ts)');
  t.equal(sent['x-forwarded-proto'], 'http');
  t.match(sent['x-forwarded-host'], /^127\.0\.0\.1:\d+$/);
  t.equal(reply.headers.via, '1.1 origin-x, 1.1 headroom-1', 'response Via keeps the origin’s entry and appends ours');
  t.equal(reply.headers['x-private'], undefined, 'a response header named in Connection is not forwarded');
  t.not(reply.headers['keep-alive'], 'timeout=99', 'the origin’s Keep-Alive stays between gateway and origin');
  t.equal(reply.body.toString(), 'ok');
});

t.test('a request carrying our own pseudonym is a loop: 508, never forwarded', async (t) => {
  const origin = await recordingOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url);
  const reply = await request(`${gateway.url}/loop`, { method: 'PUT', headers: { via: '1.0 fred, 1.1 headroom-1', 'content-length': '5' } }, 'hello');
  t.equal(reply.status, 508);
  t.equal(reply.headers['content-type'], 'application/problem+json');
  t.equal(reply.headers.via, '1.1 headroom-1');
  t.equal(reply.headers.server, 'headroom');
  t.equal(reply.headers['cache-control'], 'no-store');
  const body = JSON.parse(reply.body.toString()) as Record<string, unknown>;
  t.match(body, { status: 508, error: 'loop_detected', title: 'Loop Detected', type: /loop_detected/ });
  t.type(body.suggested_action, 'string');
  t.equal(origin.requests(), 0, 'the origin counted zero requests');
});

t.test('with Via disabled nothing is appended', async (t) => {
  const origin = await recordingOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url, { via: { enabled: false } });
  const reply = await request(`${gateway.url}/x`, { headers: { via: '1.0 fred' } });
  t.equal(origin.seen[0]!.via, '1.0 fred');
  t.equal(reply.headers.via, '1.1 origin-x');
});
