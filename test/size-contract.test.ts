import t, { type Test } from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { until } from './helpers/http.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { countingRelay } from './helpers/tcp-relay.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// A size header on a chunked body declares its size as Content-Length
// would: the body is held to it. The origin gets at most the declared bytes,
// and never a request it could take as complete.

const KiB = 1024;
const MiB = 1024 * KiB;
const HINTS = ['OC-Total-Length', 'X-Expected-Entity-Length', 'Upload-Length'];

interface Seen {
  bytes: number;
  closed: boolean;
  complete: boolean;
}

/** An origin that counts each request's body bytes as they arrive and whether the request arrived whole. */
async function countingOrigin(t: Test): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const one: Seen = { bytes: 0, closed: false, complete: false };
    seen.push(one);
    req.on('data', (d: Buffer) => (one.bytes += d.length));
    req.on('end', () => res.writeHead(201, { 'content-length': '0' }).end());
    req.on('close', () => Object.assign(one, { closed: true, complete: req.complete }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

interface Answer {
  readonly status: number | string;
  readonly body: string;
}

/** A chunked PUT; `send` writes the body and ends it. Resolves with the status, or the error code if the connection broke first. */
function chunkedRequest(base: string, name: string, headers: Record<string, string>, send: (req: http.ClientRequest) => Promise<void>): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request(`${base}/${name}`, { method: 'PUT', agent: false, headers: { 'transfer-encoding': 'chunked', ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: err.code ?? 'error', body: '' }));
    send(req).catch(() => undefined);
  });
}

/** Writes `total` bytes in 16 KiB chunks, heeding backpressure. */
async function writeBytes(req: http.ClientRequest, total: number): Promise<void> {
  for (let sent = 0; sent < total && !req.destroyed; ) {
    const n = Math.min(16 * KiB, total - sent);
    sent += n;
    if (!req.write(Buffer.alloc(n, 7))) await once(req, 'drain');
  }
}

const chunkedPut = (base: string, name: string, total: number, headers: Record<string, string>): Promise<Answer> =>
  chunkedRequest(base, name, headers, async (req) => {
    await writeBytes(req, total);
    req.end();
  });

async function counted(t: Test, policy: Record<string, unknown> = {}): Promise<{ gateway: RunningGateway; seen: Seen[] }> {
  const origin = await countingOrigin(t);
  const gateway = await gatewayFor(t, origin.url, { policy });
  return { gateway, seen: origin.seen };
}

for (const hint of HINTS) {
  t.test(`${hint} on a longer chunked body: the origin gets at most the declared bytes, never a complete request`, async (t) => {
    const { gateway, seen } = await counted(t);
    const declared = 100 * KiB;
    const answer = await chunkedRequest(gateway.url, 'lies.bin', { [hint]: String(declared) }, async (req) => {
      await writeBytes(req, declared);
      await until(() => seen[0]?.bytes === declared, 'the origin to hold the declared bytes');
      await writeBytes(req, 4 * MiB);
      req.end();
    });
    t.equal(answer.status, 400, 'the client is told its body was longer than declared');
    t.match(JSON.parse(answer.body), { error: 'declared_length_exceeded', requested: declared, declared_by: hint.toLowerCase() });
    await until(() => seen[0]!.closed, 'the origin to see the request end');
    t.same(seen, [{ bytes: declared, closed: true, complete: false }], 'the origin got the declared bytes and not one more, in a request that never completed');
    t.equal(gateway.ledger.totalReservedBytes(), 0, 'the reservation is released');
  });
}

t.test('a chunked body exactly as long as its size header passes whole', async (t) => {
  const { gateway, seen } = await counted(t);
  const answer = await chunkedPut(gateway.url, 'honest.bin', 300 * KiB, { 'X-Expected-Entity-Length': String(300 * KiB) });
  t.equal(answer.status, 201);
  t.same(seen, [{ bytes: 300 * KiB, closed: true, complete: true }]);
});

t.test('size headers that cannot be held to: 400 invalid_declared_size, nothing forwarded', async (t) => {
  const { gateway, seen } = await counted(t);
  const cases: Array<[string, Record<string, string>]> = [
    ['not a number', { 'OC-Total-Length': 'ten' }],
    ['negative', { 'Upload-Length': '-1' }],
    ['a list (the header sent twice)', { 'X-Expected-Entity-Length': '10, 10' }],
    ['too many digits', { 'OC-Total-Length': '1'.repeat(16) }],
    ['empty', { 'Upload-Length': '' }],
    ['two headers that disagree', { 'OC-Total-Length': '10', 'Upload-Length': '11' }],
  ];
  for (const [name, headers] of cases) {
    const answer = await chunkedPut(gateway.url, 'x.bin', 10, headers);
    t.equal(answer.status, 400, name);
    t.equal(JSON.parse(answer.body).error, 'invalid_declared_size', name);
  }
  t.same(seen, [], 'the origin saw none of them');
  const agreeing = await chunkedPut(gateway.url, 'x.bin', 10, { 'OC-Total-Length': '10', 'Upload-Length': '10' });
  t.equal(agreeing.status, 201, 'two size headers that agree are one declared size');
});

t.test('with Content-Length the size headers are not read (tus and Nextcloud send the whole upload’s size there)', async (t) => {
  const { gateway, seen } = await counted(t);
  const answer = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${gateway.url}/part`, { method: 'PATCH', agent: false, headers: { 'content-length': '1000', 'upload-length': '5000000', 'oc-total-length': 'soon' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end(Buffer.alloc(1000));
  });
  t.equal(answer, 201);
  await until(() => seen[0]?.closed === true, 'the request to end at the origin');
  t.same(seen, [{ bytes: 1000, closed: true, complete: true }]);
});

withTmpfs(t, 'against Apache: each size header on a longer chunked body stores nothing, relays at most the declared bytes', async (t) => {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  for (const hint of HINTS) {
    const relay = await countingRelay(apache.port);
    t.teardown(() => relay.close());
    const gateway = await gatewayFor(t, relay.url, {
      origins: [{ name: 'dav', url: relay.url, headroom: { local: { paths: [volume], interval: '100ms' } } }],
      routes: [{ origin: 'dav' }],
      policy: { reserve: '1MiB' },
    });
    await until(() => gateway.registry.get('dav', volume)?.snapshot != null, 'the first snapshot');
    const answer = await chunkedPut(gateway.url, `${hint}.bin`, 8 * MiB, { [hint]: String(1 * MiB) });
    t.equal(answer.status, 400, `${hint}: refused mid-body`);
    await until(() => relay.open() === 0, 'the cut connection to close at the relay');
    const relayed = relay.bytesToTarget();
    t.equal(gateway.ledger.totalReservedBytes(), 0, `${hint}: the ledger is back to 0`);
    // Heads and chunk framing are a few KiB; a body past the declared size would be at least 16 KiB more.
    t.ok(relayed < 1 * MiB + 8 * KiB, `${hint}: ${relayed} bytes relayed to Apache for a 1 MiB declared size`);
    await until(() => readdirSync(volume).length === 0, `Apache to drop the partial ${hint} upload`);
  }
  t.same(readdirSync(volume), [], 'no file, not even a temp file, is left');
});

t.test('a chunked body without a size header is held to policy.maxBodySize: 413, the origin gets at most that, never a complete request', async (t) => {
  const { gateway, seen } = await counted(t, { maxBodySize: '256KiB' });
  const answer = await chunkedPut(gateway.url, 'endless.bin', 4 * MiB, {});
  t.equal(answer.status, 413);
  t.match(JSON.parse(answer.body), { error: 'payload_too_large', max_body_size: 256 * KiB });
  await until(() => seen[0]?.closed === true, 'the origin to see the request end');
  t.ok(seen[0]!.bytes <= 256 * KiB, `the origin got ${seen[0]!.bytes} bytes, at most the cap`);
  t.notOk(seen[0]!.complete, 'in a request that never completed');
  t.equal(gateway.ledger.totalReservedBytes(), 0, 'the reservation is released');
});
