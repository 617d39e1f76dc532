import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { gatewayFor } from './helpers/gateway.js';
import { request, serve, until } from './helpers/http.js';

// Review finding: a route's volume share scales the facts the decision is
// taken on, and with them the body-size rules: policy.maxBodySize caps the
// body, not a volume's share of it. A share below 1 lets a body past the
// cap; (a share above 1 refuses one under it).

const MiB = 1024 ** 2;

t.test('policy.maxBodySize caps the body whatever share of it the target takes', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rv-share-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let received = 0;
  const originUrl = await serve(t, (req, res) => {
    req.on('data', (c: Buffer) => (received += c.length));
    req.on('end', () => res.writeHead(201, { 'content-length': '0' }).end());
  });
  const gateway = await gatewayFor(t, originUrl, {
    origins: [{ name: 'files', url: originUrl, headroom: { local: { paths: [dir], interval: '50ms' } } }],
    routes: [{ match: { pathPrefix: '/' }, origin: 'files', volumes: [{ volume: dir, share: 0.5 }] }],
    policy: { maxBodySize: '1MiB', reserve: '0%' },
  });
  await until(() => [...gateway.registry.all()][0]?.snapshot != null, 'a first snapshot');
  const reply = await request(`${gateway.url}/big.bin`, { method: 'PUT', headers: { 'content-length': String(1.5 * MiB) } }, Buffer.alloc(1.5 * MiB));
  t.equal(reply.status, 413, 'a 1.5 MiB body is over the 1 MiB cap');
  t.equal(received, 0, 'no byte of it reached the origin');
});
