import t from 'tap';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gatewayFor } from './helpers/gateway.js';
import { rawExchange, statusOf, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';

const MiB = 1024 * 1024;

const BODY = 8 * MiB;

/** 64 KiB chunks, a turn of the event loop apart: the client is still sending when the answer comes, as over a real link. */
async function* paced(): AsyncGenerator<Buffer> {
  const block = Buffer.alloc(64 * 1024);
  for (let sent = 0; sent < BODY; sent += block.length) {
    await new Promise((r) => setImmediate(r));
    yield block;
  }
}

/** An 8 MiB PUT from a Node client that writes it all before reading; resolves with the status or the error code. */
function put(url: string, headers: http.OutgoingHttpHeaders): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'PUT', agent: false, headers: { 'content-length': BODY, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    pipeline(paced(), req).catch(() => undefined);
  });
}

t.test('50 runs in a row: a Node client sending Connection: close reads every 507, with and without Expect', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  writeFileSync(path.join(origin.root, 'stored.bin'), Buffer.alloc(10 * MiB));
  const gateway = await gatewayFor(t, origin.url, {
    log: { level: 'silent' },
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [origin.root], capacity: '16MiB', interval: '100ms' } } }],
    policy: { reserve: '1MiB' },
  });
  await until(() => (gateway.registry.get('files', origin.root)?.snapshot?.availableBytes ?? 0) === 6 * MiB, 'a snapshot showing the stored 10 MiB');
  for (const expect of [false, true]) {
    const outcomes = new Map<number | string, number>();
    for (let i = 0; i < 50; i++) {
      const outcome = await put(`${gateway.url}/run-${i}.bin`, { connection: 'close', ...(expect ? { expect: '100-continue' } : {}) });
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    t.same(Object.fromEntries(outcomes), { 507: 50 }, `${expect ? 'with' : 'without'} Expect: 507 in 50 of 50`);
  }
  t.equal(origin.stats.requests, 0, 'no byte went to the origin');
});

t.test('a refused request that closes its connection lingers, and nothing sent after it is taken for a request', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url, { log: { level: 'silent' }, routes: [{ match: { pathPrefix: '/only/' }, origin: 'files' }] });
  const body = 'x'.repeat(64 * 1024);
  const answer = await rawExchange(
    gateway.port,
    `PUT /elsewhere HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}DELETE /only/victim HTTP/1.1\r\nHost: a\r\n\r\n`,
  );
  t.equal(statusOf(answer), 404);
  t.match(answer, /\r\nConnection: close\r\n/, 'the answer says the connection closes');
  t.equal((answer.match(/HTTP\/1\.1 \d{3}/g) ?? []).length, 1, 'one answer only');
  t.equal(origin.stats.requests, 0, 'the DELETE after it never reached the origin');
});
