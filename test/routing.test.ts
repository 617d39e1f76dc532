import t from 'tap';
import http from 'node:http';
import { loadGatewayConfig } from '../src/config/load.js';
import { originBehindGateway, startTestGateway } from './helpers/gateway.js';
import { request } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';

t.test('routes: first match by path prefix and host; no match is a 404 from the gateway', async (t) => {
  const a = await startTestOrigin();
  const b = await startTestOrigin();
  const loaded = loadGatewayConfig({
    file: null,
    env: {},
    values: {
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      origins: [{ name: 'a', url: a.url }, { name: 'b', url: b.url }],
      routes: [
        { match: { pathPrefix: '/dav/', host: 'B.example' }, origin: 'b' },
        { match: { pathPrefix: '/dav/' }, origin: 'a' },
        { match: { pathPrefix: '/dav/other/' }, origin: 'b' },
      ],
    },
  });
  if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
  const gateway = await startTestGateway(loaded.config);
  t.teardown(async () => {
    await gateway.shutdown();
    await a.close();
    await b.close();
  });

  await request(`${gateway.url}/dav/x`, { method: 'OPTIONS', headers: { host: 'b.example:8080' } });
  t.equal(b.stats.requests, 1, 'host matches case-insensitively, ignoring the port');
  await request(`${gateway.url}/dav/other/x`, { method: 'OPTIONS' });
  t.equal(a.stats.requests, 1, 'the first matching route wins over a longer prefix further down');
  const none = await request(`${gateway.url}/elsewhere`, { method: 'PUT', headers: { 'content-length': '3' } }, 'abc');
  t.equal(none.status, 404);
  t.match(JSON.parse(none.body.toString()), { error: 'no_route', status: 404 });
  t.equal(none.headers.via, '1.1 headroom-1');
  t.equal(a.stats.requests + b.stats.requests, 2, 'the unrouted request reached no origin');
});

t.test('the gateway’s own answers follow Accept', async (t) => {
  const { gateway } = await originBehindGateway(t, { headers: { server: 'guard-7' }, routes: [{ match: { pathPrefix: '/only/' }, origin: 'files' }] });
  const ask = (accept?: string) => request(`${gateway.url}/nope`, accept ? { headers: { accept } } : {});
  const plain = await ask();
  t.equal(plain.headers['content-type'], 'application/problem+json', 'problem+json by default');
  t.equal(plain.headers.server, 'guard-7', 'Server is configurable');
  const browser = await ask('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
  t.equal(browser.headers['content-type'], 'text/html; charset=utf-8');
  t.match(browser.body.toString(), /<h1>404 Not Found<\/h1>/);
  const json = await ask('application/json');
  t.equal(json.headers['content-type'], 'application/json');
  t.same(JSON.parse(json.body.toString()), JSON.parse(plain.body.toString()), 'JSON carries the same object');
  const head = await request(`${gateway.url}/nope`, { method: 'HEAD' });
  t.equal(head.status, 404);
  t.equal(head.body.length, 0, 'HEAD gets no body');
});

t.test('a refused upload is answered while its body still arrives (lingering close)', async (t) => {
  const { origin, gateway } = await originBehindGateway(t, { routes: [{ match: { pathPrefix: '/only/' }, origin: 'files' }] });
  // A Node client writes the whole 8 MiB body and only then reads: without
  // lingering it meets EPIPE/ECONNRESET instead of the 404.
  for (const connection of ['keep-alive', 'close']) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gateway.url}/elsewhere.bin`, { method: 'PUT', agent: false, headers: { 'content-length': 8 * 1024 * 1024, connection } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(Buffer.alloc(8 * 1024 * 1024));
    });
    t.equal(status, 404, `Connection: ${connection}: the client read the 404`);
  }
  t.equal(origin.stats.requests, 0);
});

t.test('a refused request that expects 100-continue gets its final answer and no 100', async (t) => {
  const { origin, gateway } = await originBehindGateway(t, { routes: [{ match: { pathPrefix: '/only/' }, origin: 'files' }] });
  const { rawExchange, statusOf } = await import('./helpers/http.js');
  const answer = await rawExchange(gateway.port, 'PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n', 2000);
  t.equal(statusOf(answer), 404, 'the final status comes first');
  t.notMatch(answer, /100 Continue/, 'no 100 Continue was sent');
  t.match(answer, /\r\nConnection: close\r\n/, 'the connection closes, so the unsent body cannot be taken for a request');
  t.equal(origin.stats.requests, 0);
});

t.test('refusing many uploads on one keep-alive connection leaves no listener behind', async (t) => {
  const { gateway } = await originBehindGateway(t, { routes: [{ match: { pathPrefix: '/only/' }, origin: 'files' }] });
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  for (let i = 0; i < 30; i++) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gateway.url}/elsewhere`, { method: 'PUT', agent, headers: { 'content-length': 4096 } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(Buffer.alloc(4096));
    });
    t.equal(status, 404);
  }
  await new Promise((r) => setImmediate(r));
  t.same(warnings, [], 'no MaxListenersExceededWarning');
});
