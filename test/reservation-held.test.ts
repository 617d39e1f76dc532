import t from 'tap';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gatewayFor } from './helpers/gateway.js';
import { holdingOrigin } from './helpers/holding-origin.js';
import { until } from './helpers/http.js';

const MiB = 1024 * 1024;

function put(base: string, name: string, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/${name}`, { method: 'PUT', agent: false, headers: { 'content-length': String(size) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(Buffer.alloc(size));
  });
}

t.test('an upload stays reserved until the origin answers, even across a fresh snapshot', async (t) => {
  const origin = await holdingOrigin(t);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-held-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = await gatewayFor(t, origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [dir], capacity: '10MiB', interval: '50ms' } } }],
    policy: { reserve: '0%' },
  });
  const volume = () => [...gateway.registry.all()][0]!;
  await until(() => volume().snapshot !== null, 'a first snapshot');

  const first = put(gateway.url, 'first.bin', 6 * MiB);
  await until(() => origin.received() === 6 * MiB, 'the origin holding the whole first body');
  const streamedAt = Date.now();
  await until(() => volume().snapshot!.takenAt > streamedAt, 'a snapshot taken after the body streamed');

  t.equal(await put(gateway.url, 'second.bin', 6 * MiB), 507, 'the first upload’s 6 MiB still count: 6 more do not fit in 10');
  t.equal(origin.received(), 6 * MiB, 'no byte of the second upload reached the origin');
  origin.answerAll();
  t.equal(await first, 201);
  t.equal(gateway.ledger.totalReservedBytes(), 0, 'the reservation is released when the exchange ends');
});
