import t from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { gatewayFor } from './helpers/gateway.js';
import { until } from './helpers/http.js';

const KiB = 1024;

/** An origin that takes uploads to /ok and resets the connection mid-body on /reset. */
async function flakyOrigin(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url!.startsWith('/reset')) {
      req.once('data', () => req.socket.destroy());
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(201, { 'content-length': '0' });
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

type Kind = 'complete' | 'too_large' | 'client_abort' | 'origin_reset' | 'chunked';
const KINDS: Kind[] = ['complete', 'too_large', 'client_abort', 'origin_reset', 'chunked'];

/** One exchange of the given kind; resolves when the client is done with it, whatever happened. */
function exchange(base: string, kind: Kind, size: number, i: number): Promise<string> {
  return new Promise((resolve) => {
    const chunked = kind === 'chunked';
    const declared = kind === 'too_large' ? 8 * 1024 * KiB : size;
    const req = http.request(`${base}/${kind === 'origin_reset' ? 'reset' : 'ok'}/${i}`, {
      method: 'PUT',
      agent: false,
      headers: chunked ? {} : { 'content-length': String(declared) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.statusCode)));
      res.on('error', () => resolve('response-error'));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    if (kind === 'client_abort') {
      req.write(Buffer.alloc(Math.floor(size / 2) + 1));
      setTimeout(() => req.destroy(), 2);
      return;
    }
    req.end(Buffer.alloc(kind === 'too_large' ? 64 * KiB : size));
  });
}

t.test('1,000 randomly mixed exchanges leave exactly 0 bytes reserved', async (t) => {
  const origin = await flakyOrigin();
  t.teardown(() => origin.close());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-volume-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = await gatewayFor(t, origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [dir], capacity: '4MiB', interval: '50ms' } } }],
    policy: { reserve: '0', unknownLength: '256KiB' },
    log: { level: 'warn' },
  });
  await until(() => gateway.registry.get('files', dir)?.snapshot != null, 'the first snapshot');

  // A seeded generator, so a failure can be replayed.
  let seed = 42;
  const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const outcomes = new Map<string, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < 1000) {
      const i = next++;
      const kind = KINDS[Math.floor(random() * KINDS.length)]!;
      const outcome = await exchange(gateway.url, kind, 1 + Math.floor(random() * 512 * KiB), i);
      const key = `${kind}:${outcome}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  t.comment([...outcomes].sort().map(([k, n]) => `${k} ×${n}`).join(', '));

  const seen = (prefix: string) => [...outcomes].some(([k]) => k.startsWith(prefix));
  t.ok(seen('complete:201'), 'some uploads completed');
  t.ok(seen('complete:507') || seen('chunked:507'), 'some were refused for room');
  t.ok(seen('too_large:413'), 'some could never fit');
  t.ok(seen('origin_reset:502') || seen('origin_reset:E') || seen('origin_reset:response-error'), 'some met an origin reset');
  await until(() => gateway.ledger.totalReservedBytes() === 0, 'every reservation to be released', 10_000);
  t.equal(gateway.ledger.totalReservedBytes(), 0, 'the ledger holds exactly 0 bytes');
});
