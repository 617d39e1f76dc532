import http from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { configFor, startTestGateway, type RunningGateway } from './helpers/gateway.js';
import { serve, until } from './helpers/http.js';
import { SlowLedger } from './helpers/slow-ledger.js';

const MiB = 1024 * 1024;

/** An origin that takes every upload and counts the bytes it received. */
async function countingOrigin(t: Test): Promise<{ url: string; bytes: () => number; requests: () => number }> {
  let bytes = 0;
  let requests = 0;
  const url = await serve(t, (req, res) => {
    requests++;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => res.writeHead(201, { 'content-length': 0 }).end());
  });
  return { url, bytes: () => bytes, requests: () => requests };
}

/** A gateway on a slow ledger, in front of `origin`, judging writes against a 10 MiB volume with no reserve. */
async function gatewayOnSlowLedger(t: Test, originUrl: string, ledger: SlowLedger, policy: Record<string, unknown> = {}): Promise<{ gateway: RunningGateway; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-volume-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = await startTestGateway(configFor(originUrl, {
    origins: [{ name: 'files', url: originUrl, headroom: { local: { paths: [dir], capacity: '10MiB', interval: '1h' } } }],
    policy: { reserve: '0', ...policy },
    log: { level: 'warn' },
  }), { ledger });
  t.teardown(() => gateway.shutdown());
  await until(() => gateway.registry.get('files', dir)?.snapshot != null, 'the first snapshot');
  return { gateway, dir };
}

/** A PUT; resolves with the status and the parsed body. */
function put(url: string, body: Buffer, chunked = false): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', agent: false, headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': body.length } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString();
        resolve({ status: res.statusCode!, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('16 uploads decided at once on a ledger that answers later: exactly those that fit are admitted; the others get 507 with the figures', async (t) => {
  const origin = await countingOrigin(t);
  const ledger = new SlowLedger(5);
  const { gateway } = await gatewayOnSlowLedger(t, origin.url, ledger);
  // Every decision is made before the ledger answers any: each saw the whole 10 MiB free.
  ledger.hold();
  const uploads = Array.from({ length: 16 }, (_, i) => put(`${gateway.url}/u${i}`, Buffer.alloc(MiB, 'u')));
  await until(() => ledger.pending === 16, 'all 16 asking the ledger');
  ledger.let();
  const answers = await Promise.all(uploads);
  t.equal(answers.filter((a) => a.status === 201).length, 10, 'ten 1 MiB uploads fit into 10 MiB');
  const refused = answers.filter((a) => a.status === 507);
  t.equal(refused.length, 6, 'the other six are refused by the ledger');
  t.match(refused[0]!.body, { error: 'insufficient_storage', requested: MiB, quota_available: 0, quota_total: 10 * MiB }, 'with the figures the ledger refused on');
  t.equal(origin.requests(), 10, 'no refused upload reached the origin');
  t.equal(origin.bytes(), 10 * MiB, 'the origin received exactly what was admitted');
  await until(() => ledger.totalReservedBytes() === 0, 'every reservation released');
});

t.test('16 chunked uploads growing through a ledger that answers later never put more than the room on the origin', async (t) => {
  const origin = await countingOrigin(t);
  const ledger = new SlowLedger(20);
  const { gateway } = await gatewayOnSlowLedger(t, origin.url, ledger, { unknownLength: '128KiB' });
  const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => put(`${gateway.url}/c${i}`, Buffer.alloc(MiB, 'c'), true).catch(() => ({ status: 0, body: {} }))));
  t.ok(ledger.growths > 16, `the uploads grew through the ledger (${ledger.growths} asks)`);
  t.ok(answers.some((a) => a.status === 507 || a.status === 0), 'some were stopped for room (16 MiB cannot fit into 10)');
  t.ok(origin.bytes() >= 5 * MiB, `the room was used, not refused wholesale (${origin.bytes()} bytes arrived)`);
  t.ok(origin.bytes() <= 10 * MiB, `the origin received ${origin.bytes()} bytes: never more than the room`);
  await until(() => ledger.totalReservedBytes() === 0, 'every reservation released');
});

t.test('while the ledger has yet to answer a growth, the upload waits: paused, not buffered', async (t) => {
  const origin = await countingOrigin(t);
  const ledger = new SlowLedger(1);
  const { gateway } = await gatewayOnSlowLedger(t, origin.url, ledger, { unknownLength: '1MiB', maxUploadShare: 1 });
  const size = 9 * MiB;
  const req = http.request(`${gateway.url}/big.bin`, { method: 'PUT', agent: false, headers: { 'transfer-encoding': 'chunked' } });
  const answered = once(req, 'response').then(([res]) => (res as http.IncomingMessage).statusCode);
  let flushed = 0;
  let blocked = false;
  const piece = Buffer.alloc(64 * 1024, 'b');
  const pump = (): void => {
    while (flushed < size) {
      flushed += piece.length;
      if (!req.write(piece)) {
        blocked = true;
        req.once('drain', () => {
          blocked = false;
          pump();
        });
        return;
      }
    }
    req.end();
  };
  pump();
  await until(() => origin.bytes() > 2 * MiB, 'the upload streaming');
  ledger.hold();
  await until(() => ledger.pending > 0 && blocked, 'a growth waiting on the ledger, and the client held back');
  const atOrigin = origin.bytes();
  const inBetween = flushed - atOrigin;
  t.ok(inBetween <= 8 * MiB, `${(inBetween / MiB).toFixed(1)} MiB between the client and the origin while the answer is pending (socket buffers; the body is not buffered by the gateway)`);
  t.ok(flushed < size, 'the client could not send the whole body meanwhile');
  t.equal(origin.bytes(), atOrigin, 'nothing more reached the origin while it waited');
  ledger.let();
  t.equal(await answered, 201, 'the upload completes once the ledger answers');
  t.equal(origin.bytes(), size, 'every byte arrived');
  await until(() => ledger.totalReservedBytes() === 0, 'the reservation released');
});
