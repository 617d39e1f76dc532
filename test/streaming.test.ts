import t from 'tap';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { startTestOrigin } from './helpers/origin.js';
import { memoryOf, spawnGatewayFor } from './helpers/process.js';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

/** A deterministic 1 GiB body, hashed as it is sent. */
function* body(hash: ReturnType<typeof createHash>): Generator<Buffer> {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < GiB / MiB; i++) {
    block.fill(i % 251);
    block.writeUInt32BE(i, 0);
    hash.update(block);
    yield block;
  }
}

t.test('a 1 GiB PUT arrives byte-identical while the gateway’s memory stays flat', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const gateway = await spawnGatewayFor(t, origin.url);
  const pid = gateway.child.pid!;
  const before = memoryOf(pid);

  const sentHash = createHash('sha256');
  const started = performance.now();
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${gateway.url}/big.bin`, { method: 'PUT', agent: false, headers: { 'content-length': GiB } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    pipeline(body(sentHash), req).catch(reject);
  });
  const seconds = (performance.now() - started) / 1000;
  const after = memoryOf(pid);

  t.equal(status, 201);
  const storedHash = createHash('sha256');
  await pipeline(createReadStream(path.join(origin.root, 'big.bin')), storedHash);
  t.equal(storedHash.digest('hex'), sentHash.digest('hex'), 'the stored file has the sent checksum');
  const growth = after.peak - before.rss;
  t.comment(`1 GiB in ${seconds.toFixed(1)} s (${(GiB / MiB / seconds).toFixed(0)} MiB/s); gateway RSS ${(before.rss / MiB).toFixed(0)} MiB at start, peak ${(after.peak / MiB).toFixed(0)} MiB`);
  t.ok(growth < 64 * MiB, `the gateway’s RSS grew by ${(growth / MiB).toFixed(1)} MiB (< 64 MiB)`);
});
