import t, { type Test } from 'tap';
import http from 'node:http';
import { gatewayFor } from './helpers/gateway.js';
import { request, serve } from './helpers/http.js';

/** An origin that records the forwarding headers of each request. */
async function recordingOrigin(t: Test): Promise<{ url: string; seen: http.IncomingHttpHeaders[] }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const url = await serve(t, (req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  return { url, seen };
}

const fromTerminator = {
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'files.example.com',
  'x-forwarded-for': '203.0.113.7',
  forwarded: 'for=203.0.113.7;proto=https;host=files.example.com',
};

t.test('a TLS terminator’s X-Forwarded-* and Forwarded from a trusted address reach the origin, extended', async (t) => {
  const origin = await recordingOrigin(t);
  const gateway = await gatewayFor(t, origin.url, { trustedProxies: ['127.0.0.0/8'], headers: { forwarded: true } });
  t.equal((await request(`${gateway.url}/a`, { headers: fromTerminator })).status, 200);
  const sent = origin.seen[0]!;
  t.equal(sent['x-forwarded-proto'], 'https', 'the terminator’s scheme is kept');
  t.equal(sent['x-forwarded-host'], 'files.example.com', 'the terminator’s host is kept');
  t.equal(sent['x-forwarded-for'], '203.0.113.7, 127.0.0.1', 'this hop is appended to X-Forwarded-For');
  t.match(sent.forwarded, /^for=203\.0\.113\.7;proto=https;host=files\.example\.com, for=127\.0\.0\.1;host="?127\.0\.0\.1:\d+"?;proto=http$/, 'and to Forwarded');
});

t.test('from an untrusted address they are replaced with what the gateway saw', async (t) => {
  const origin = await recordingOrigin(t);
  for (const trustedProxies of [[], ['10.0.0.0/8', '::1']]) {
    origin.seen.length = 0;
    const gateway = await gatewayFor(t, origin.url, { trustedProxies, headers: { forwarded: true } });
    t.equal((await request(`${gateway.url}/a`, { headers: fromTerminator })).status, 200);
    const sent = origin.seen[0]!;
    t.equal(sent['x-forwarded-proto'], 'http', `trusted ${JSON.stringify(trustedProxies)}: the client’s claim of https is replaced`);
    t.match(sent['x-forwarded-host'], /^127\.0\.0\.1:\d+$/);
    t.equal(sent['x-forwarded-for'], '127.0.0.1');
    t.match(sent.forwarded, /^for=127\.0\.0\.1;host=/, 'Forwarded holds this hop only');
  }
});

t.test('trustedProxies is checked when the config is read', async (t) => {
  const { configFor } = await import('./helpers/gateway.js');
  t.throws(() => configFor('http://127.0.0.1:1', { trustedProxies: ['10.0.0.0/33'] }), /trustedProxies: expected addresses or CIDR ranges .* "10\.0\.0\.0\/33" is not one/);
  t.throws(() => configFor('http://127.0.0.1:1', { trustedProxies: ['proxy.local'] }), /trustedProxies/);
});
