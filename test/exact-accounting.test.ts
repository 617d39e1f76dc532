import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import t, { type Test } from 'tap';
import { gatewayFor } from './helpers/gateway.js';
import { holdingOrigin, put, snapshotAfter, upload } from './helpers/holding-origin.js';
import { serve, until } from './helpers/http.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// Exact in-flight accounting (docs/admission.md#what-an-admitted-write-holds):
// what a snapshot shows of the uploads in flight is read from the volume's
// growth — so an upload's bytes already on the disk do not count twice,
// and bytes an origin holds in memory are not taken as landed, however
// long they stay there.

const MiB = 1024 ** 2;

/** Writes each PUT to `dir` as its body arrives; counts what it received. */
async function streamingOrigin(t: Test, dir: string): Promise<{ url: string; received: () => number }> {
  let received = 0;
  const url = await serve(t, (req, res) => {
    req.on('data', (chunk: Buffer) => (received += chunk.length));
    pipeline(req, createWriteStream(path.join(dir, path.basename(req.url!)))).then(
      () => res.writeHead(201, { 'content-length': '0' }).end(),
      () => res.writeHead(507, { 'content-length': '0' }).end(),
    );
  });
  return { url, received: () => received };
}

withTmpfs(t, 'exact in-flight accounting on a tmpfs', async (t) => {
  await t.test('a snapshot taken while a 64 MiB known-size upload is half streamed no longer refuses a write that fits', async (t) => {
    const volume = mountTmpfs(t, 'size=96m');
    const origin = await streamingOrigin(t, volume);
    const gateway = await gatewayFor(t, origin.url, {
      origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [volume], interval: '50ms' } } }],
      policy: { reserve: '0%', floodStage: 0.99, floodRelease: 0.98 },
    });
    await snapshotAfter(gateway);
    const big = upload(gateway, 'big.bin', { 'content-length': String(64 * MiB) });
    big.req.write(Buffer.alloc(32 * MiB, 1));
    await until(() => origin.received() >= 32 * MiB, 'half of the body at the origin, written as it arrives');
    await snapshotAfter(gateway);
    await snapshotAfter(gateway);
    // 96 MiB, 32 of it on the disk; the upload needs 32 more: 32 MiB are free for others, not 0.
    t.equal(await put(gateway, 'fits.bin', 24 * MiB), 201, 'a 24 MiB write fits beside the rest of the 64 MiB upload');
    t.equal(await put(gateway, 'too-big.bin', 16 * MiB), 507, 'and then 16 MiB more do not (8 are left)');
    big.req.end(Buffer.alloc(32 * MiB, 1));
    t.equal(await big.status, 201);
    t.equal(gateway.ledger.totalReservedBytes(), 0);
  });

  await t.test('a snapshot taken while a chunked upload’s bytes sit in an origin’s memory no longer lets a concurrent write overcommit', async (t) => {
    const volume = mountTmpfs(t, 'size=16m');
    const origin = await holdingOrigin(t);
    const gateway = await gatewayFor(t, origin.url, {
      origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [volume], interval: '50ms' } } }],
      policy: { reserve: '0%', floodStage: 0.99, floodRelease: 0.98, maxUploadShare: 0.05 },
    });
    await snapshotAfter(gateway);
    const held = upload(gateway, 'held.bin', { 'transfer-encoding': 'chunked' });
    held.req.write(Buffer.alloc(8 * MiB, 2));
    await until(() => origin.received() >= 8 * MiB, 'the 8 MiB in the origin’s memory');
    // Long after they were sent: a model that takes sent bytes as landed after a while would take these.
    await snapshotAfter(gateway, 1500);
    await snapshotAfter(gateway);
    t.ok(gateway.ledger.totalReservedBytes() < MiB, 'the chunked upload holds only a stretch ahead of what it sent');
    t.equal(await put(gateway, 'second.bin', 10 * MiB), 507, 'the 8 MiB on no disk yet still count: 10 more do not fit in 16');
    t.equal(origin.received(), 8 * MiB, 'no byte of it reached the origin');
    held.req.end();
    await until(() => origin.waiting() === 1, 'the held upload’s whole body at the origin');
    origin.answerAll();
    t.equal(await held.status, 201);
    t.equal(gateway.ledger.totalReservedBytes(), 0);
  });
});
