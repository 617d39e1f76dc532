import t from 'tap';
import { configFor, originBehindGateway, startTestGateway } from './helpers/gateway.js';
import { request } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';

// Each method against the origin directly and through the gateway, on two
// identical stores: same status, same body bytes.
t.test('every WebDAV method answers through the gateway as it does directly', async (t) => {
  const direct = await startTestOrigin();
  const behind = await startTestOrigin();
  const gateway = await startTestGateway(configFor(behind.url));
  t.teardown(async () => {
    await gateway.shutdown();
    await direct.close();
    await behind.close();
  });

  const steps: Array<[string, string, Record<string, string>, string?]> = [
    ['MKCOL', '/col', {}],
    ['PUT', '/col/a.txt', { 'content-type': 'text/plain' }, 'hello headroom\n'],
    ['PUT', '/col/a.txt', {}, 'overwritten\n'],
    ['GET', '/col/a.txt', {}],
    ['HEAD', '/col/a.txt', {}],
    ['OPTIONS', '/col/', {}],
    ['PROPFIND', '/col/a.txt', { depth: '0' }],
    ['COPY', '/col/a.txt', { destination: '/col/b.txt' }],
    ['MOVE', '/col/b.txt', { destination: '/col/c.txt' }],
    ['GET', '/col/c.txt', {}],
    ['LOCK', '/col/c.txt', { 'content-type': 'application/xml' }, '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"/>'],
    ['UNLOCK', '/col/c.txt', { 'lock-token': '<opaquelocktoken:c.txt>' }],
    ['DELETE', '/col/c.txt', {}],
    ['GET', '/col/c.txt', {}],
    ['MKCOL', '/col', {}],
  ];
  for (const [method, path, headers, body] of steps) {
    const a = await request(direct.url + path, { method, headers: { ...headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, body);
    const b = await request(gateway.url + path, { method, headers: { ...headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, body);
    t.equal(b.status, a.status, `${method} ${path}: status ${a.status}`);
    t.same(b.body, a.body, `${method} ${path}: same body bytes`);
    t.match(b.headers.via, /^1\.1 headroom-1$/, `${method} ${path}: Via on the response`);
  }
  t.equal(behind.stats.bodyBytes, direct.stats.bodyBytes, 'the origin behind the gateway received the same body bytes');
  t.equal(behind.stats.connections, 1, `${steps.length} exchanges shared one keep-alive connection to the origin`);
});

t.test('a chunked upload of unknown length streams through and is stored whole', async (t) => {
  const { gateway } = await originBehindGateway(t);
  const http = await import('node:http');
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${gateway.url}/chunked.bin`, { method: 'PUT', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    for (let i = 0; i < 10; i++) req.write(Buffer.alloc(1000, i));
    req.end();
  });
  t.equal(status, 201);
  const back = await request(`${gateway.url}/chunked.bin`);
  t.equal(back.body.length, 10_000, 'all 10,000 bytes stored');
  t.equal(back.body[9_999], 9);
});
