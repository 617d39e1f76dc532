import t from 'tap';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { createOrigin, UPSTREAM_WRITE_BUFFER } from '../src/exchange/origin.js';
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

t.test('a fast stream does not make V8 run full garbage collections', async (t) => {
  // An origin that discards what it reads: the stream goes as fast as loopback allows.
  const origin = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(201).end())).listen(0, '127.0.0.1');
  await once(origin, 'listening');
  t.teardown(() => origin.close());
  const volume = mkdtempSync(path.join(os.tmpdir(), 'headroom-volume-'));
  t.teardown(() => rmSync(volume, { recursive: true, force: true }));
  // A sidecar's configuration: the origin's volume measured with statfs.
  const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  const gateway = await spawnGatewayFor(t, url, { origins: [{ name: 'files', url, headroom: { local: { paths: [volume] } } }] }, { nodeArgs: ['--trace-gc'], withoutTapHooks: true });

  const size = 512 * MiB;
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${gateway.url}/stream.bin`, { method: 'PUT', agent: false, headers: { 'content-length': size } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    const block = Buffer.alloc(MiB);
    pipeline(
      (function* () {
        for (let i = 0; i < size / MiB; i++) yield block;
      })(),
      req,
    ).catch(reject);
  });
  t.equal(status, 201);
  // V8 prints its trace through C's buffered stdout: it is complete once the process has exited.
  gateway.child.kill('SIGTERM');
  t.equal(await gateway.exited, 0);
  const fullGcs = gateway.otherLines.filter((line) => line.includes('Mark-Compact')).length;
  t.ok(fullGcs <= 3, `${fullGcs} full GCs in the gateway's life, a 512 MiB PUT included (without more heap growth: one every ~32 MiB streamed)`);
});

t.test('an upstream connection takes a whole 64 KiB socket read without pausing the upload', async (t) => {
  const server = http.createServer((req, res) => req.resume().on('end', () => res.end())).listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  const upstream = createOrigin({
    name: 'o',
    url: `http://127.0.0.1:${port}`,
    connectTimeout: 1000,
    timeout: 1000,
    maxSockets: 0,
    headroom: { agent: null, local: null, health: null, nodeExporter: null, prometheus: null },
  });
  const plain = new http.Agent({ keepAlive: true });
  t.teardown(() => (upstream.agent.destroy(), plain.destroy()));

  /** What `write` answers for one 64 KiB chunk on a connected request: false pauses the client's upload. */
  const acceptsChunk = async (agent: http.Agent): Promise<boolean> => {
    const req = http.request({ ...upstream.target, method: 'PUT', agent, headers: { 'content-length': String(64 * 1024) } });
    const [socket] = (await once(req, 'socket')) as [Socket];
    if (socket.connecting) await once(socket, 'connect');
    const accepted = req.write(Buffer.alloc(64 * 1024));
    req.end();
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    res.resume();
    return accepted;
  };
  t.equal(await acceptsChunk(plain), false, 'with Node’s default 16 KiB mark, each read pauses the upload');
  t.equal(await acceptsChunk(upstream.agent), true, `with ${UPSTREAM_WRITE_BUFFER / 1024} KiB it streams on`);
});
