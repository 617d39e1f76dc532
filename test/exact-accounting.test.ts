import { createWriteStream } from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import type { VolumeState } from '../src/headroom/volume-state.js';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { until } from './helpers/http.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// Exact in-flight accounting (docs/admission.md#what-an-admitted-write-holds):
// what a snapshot shows of the uploads in flight is read from the volume's
// growth — so an upload's bytes already on the disk do not count twice,
// and bytes an origin holds in memory are not taken as landed, however
// long they stay there.

const MiB = 1024 ** 2;

interface Origin {
  readonly url: string;
  readonly received: () => number;
  /** Uploads whose whole body a holding origin has, waiting for `answerAll`. */
  readonly waiting: () => number;
  /** Answers every upload whose body has arrived (a holding origin's, after it held it). */
  answerAll(): void;
  close(): Promise<void>;
}

/** Writes each PUT to `dir` as it arrives (`dir` given), or reads it into memory and answers only when told (no `dir`). */
async function startOrigin(dir: string | null): Promise<Origin> {
  let received = 0;
  const waiting: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (received += chunk.length));
    if (dir === null) {
      req.on('end', () => waiting.push(() => res.writeHead(201, { 'content-length': '0' }).end()));
      req.resume();
      return;
    }
    pipeline(req, createWriteStream(path.join(dir, path.basename(req.url!)))).then(
      () => res.writeHead(201, { 'content-length': '0' }).end(),
      () => res.writeHead(507, { 'content-length': '0' }).end(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    received: () => received,
    waiting: () => waiting.length,
    answerAll: () => waiting.splice(0).forEach((answer) => answer()),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A PUT whose body the test sends piece by piece; `headers` says how it is framed. */
function upload(gateway: RunningGateway, name: string, headers: Record<string, string>) {
  const req = http.request(`${gateway.url}/${name}`, { method: 'PUT', agent: false, headers });
  const status = once(req, 'response').then(([res]) => {
    (res as http.IncomingMessage).resume();
    return (res as http.IncomingMessage).statusCode!;
  });
  return { req, status };
}

async function put(gateway: RunningGateway, name: string, size: number): Promise<number> {
  const { req, status } = upload(gateway, name, { 'content-length': String(size) });
  req.end(Buffer.alloc(size));
  return status;
}

const volumeOf = (gateway: RunningGateway): VolumeState => [...gateway.registry.all()][0]!;

/** Waits for a snapshot whose measurement started at least `ms` after now. */
async function snapshotAfter(gateway: RunningGateway, ms = 0): Promise<void> {
  const after = Date.now() + ms;
  await until(() => (volumeOf(gateway).snapshot?.takenAt ?? 0) > after, 'a snapshot taken after now', 10_000);
}

withTmpfs(t, 'exact in-flight accounting on a tmpfs', async (t) => {
  await t.test('a snapshot taken while a 64 MiB known-size upload is half streamed no longer refuses a write that fits', async (t) => {
    const volume = mountTmpfs(t, 'size=96m');
    const origin = await startOrigin(volume);
    t.teardown(() => origin.close());
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
    const origin = await startOrigin(null);
    t.teardown(() => origin.close());
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
