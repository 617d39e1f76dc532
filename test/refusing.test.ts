import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { rawExchange, request, serve, statusOf, until } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/origin.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** The sample origin with a 16 MiB allocation, 10 MiB stored, behind the gateway. */
async function nearlyFull(t: Test): Promise<{ origin: TestOrigin; gateway: RunningGateway }> {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  writeFileSync(path.join(origin.root, 'stored.bin'), Buffer.alloc(10 * MiB));
  const gateway = await gatewayFor(t, origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [origin.root], capacity: '16MiB', interval: '100ms' } } }],
    policy: { reserve: '1MiB' },
  });
  await until(() => (gateway.registry.get('files', origin.root)?.snapshot?.availableBytes ?? 0) === 6 * MiB, 'a snapshot showing the stored 10 MiB');
  return { origin, gateway };
}

function tempFile(t: Test, bytes: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-upload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'eight.bin');
  writeFileSync(file, Buffer.alloc(bytes, 9));
  return file;
}

t.test('curl -T without Expect sees the 507, not a broken pipe, 20 times out of 20', async (t) => {
  const { origin, gateway } = await nearlyFull(t);
  const file = tempFile(t, 8 * MiB);
  const statuses: string[] = [];
  for (let i = 0; i < 20; i++) {
    const { stdout } = await run('curl', ['-sS', '-H', 'Expect:', '-T', file, '-o', '/dev/null', '-w', '%{http_code}', `${gateway.url}/eight-${i}.bin`]);
    statuses.push(stdout);
  }
  t.same(statuses, Array(20).fill('507'), 'curl exited 0 with status 507 every time');
  t.equal(origin.stats.requests, 0, 'the origin saw none of them');
});

t.test('rclone copyto reports the 507', async (t) => {
  const { origin, gateway } = await nearlyFull(t);
  const file = tempFile(t, 8 * MiB);
  const result = await run('rclone', ['copyto', file, ':webdav:eight.bin', '--webdav-url', gateway.url, '--retries', '1', '--low-level-retries', '1', '-q'], { env: { ...process.env, RCLONE_CONFIG: '/dev/null' } }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
  t.not(result.code, 0, 'rclone fails the copy');
  t.match(result.stderr, /507/, 'and says 507');
  t.notMatch(result.stderr, /broken pipe|connection reset/i);
  t.equal(origin.stats.bodyBytes, 0, 'the origin received no body bytes');
});

t.test('refusals follow Accept, each with Retry-After, Via and no-store', async (t) => {
  const { gateway } = await nearlyFull(t);
  for (const [accept, type] of [
    [undefined, 'application/problem+json'],
    ['application/json', 'application/json'],
    ['text/html', 'text/html; charset=utf-8'],
  ] as const) {
    const reply = await request(`${gateway.url}/big.bin`, { method: 'PUT', headers: { 'content-length': String(8 * MiB), ...(accept ? { accept } : {}) } }, Buffer.alloc(8 * MiB));
    t.equal(reply.status, 507);
    t.equal(reply.headers['content-type'], type, `Accept ${accept ?? '(none)'}`);
    t.equal(reply.headers['retry-after'], '60');
    t.equal(reply.headers.via, '1.1 headroom-1');
    t.equal(reply.headers['cache-control'], 'no-store');
    if (type === 'text/html; charset=utf-8') t.match(reply.body.toString(), /<h1>507 Insufficient Storage<\/h1>/);
    else t.match(JSON.parse(reply.body.toString()), { error: 'insufficient_storage', requested: 8 * MiB, quota_available: 5 * MiB, quota_total: 15 * MiB, quota_used: 10 * MiB });
  }
});

t.test('reads and DELETE are never refused for lack of room', async (t) => {
  const { gateway } = await nearlyFull(t);
  for (const method of ['GET', 'HEAD', 'PROPFIND', 'OPTIONS', 'DELETE']) {
    const reply = await request(`${gateway.url}/stored.bin`, { method, headers: { 'content-length': '0' } });
    t.notOk([507, 413, 503].includes(reply.status), `${method}: ${reply.status}`);
  }
});

t.test('a body longer than its Content-Length is cut at the declared length', async (t) => {
  const { origin, gateway } = await nearlyFull(t);
  const answer = await rawExchange(gateway.port, 'PUT /five.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloSMUGGLED-EXTRA-BYTES', 500);
  t.equal(statusOf(answer), 201);
  t.same(answer.match(/HTTP\/1\.1 \d{3}/g), ['HTTP/1.1 201', 'HTTP/1.1 400'], 'the upload’s answer, then a 400 for the bytes past its body, which went nowhere');
  t.equal(origin.stats.bodyBytes, 5, 'the origin received exactly the 5 declared bytes');
  const stored = await request(`${gateway.url}/five.txt`);
  t.equal(stored.body.toString(), 'hello');
});

t.test('size headers stand in for Content-Length on chunked uploads', async (t) => {
  const { origin, gateway } = await nearlyFull(t);
  for (const header of ['OC-Total-Length', 'X-Expected-Entity-Length', 'Upload-Length']) {
    const answer = await rawExchange(gateway.port, `PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n${header}: ${8 * MiB}\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    t.equal(statusOf(answer), 507, `${header}: 8 MiB declared, refused`);
  }
  t.equal(origin.stats.requests, 0);
});

t.test('an origin’s 507 passes through untouched and marks the volume full until a fresh snapshot', async (t) => {
  let received = 0;
  const url = await serve(t, (req, res) => {
    received++;
    req.resume();
    req.on('end', () => {
      if (req.url === '/full') {
        res.writeHead(507, { 'content-type': 'text/plain', server: 'origin-x' });
        res.end('disk full\n');
      } else {
        res.writeHead(201, { 'content-length': '0' });
        res.end();
      }
    });
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-volume-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = await gatewayFor(t, url, {
    origins: [{ name: 'files', url, headroom: { local: { paths: [dir], capacity: '16MiB', interval: '300ms' } } }],
  });
  const state = () => gateway.registry.get('files', dir);
  await until(() => state()?.snapshot != null, 'the first snapshot');

  const full = await request(`${gateway.url}/full`, { method: 'PUT', headers: { 'content-length': '3' } }, 'abc');
  t.equal(full.status, 507);
  t.equal(full.headers.server, 'origin-x', 'the origin’s own headers');
  t.equal(full.body.toString(), 'disk full\n', 'and body, untouched');
  const markedAt = Date.now();
  const next = await request(`${gateway.url}/other`, { method: 'PUT', headers: { 'content-length': '3' } }, 'abc');
  t.equal(next.status, 507, 'the next write is refused by the gateway');
  t.equal(next.headers.server, 'headroom');
  t.equal(received, 1, 'without reaching the origin');
  await until(() => (state()?.snapshot?.takenAt ?? 0) > markedAt, 'a fresh snapshot');
  const after = await request(`${gateway.url}/other`, { method: 'PUT', headers: { 'content-length': '3' } }, 'abc');
  t.equal(after.status, 201, 'a fresh snapshot showing room lifts the mark');
  t.equal(received, 2);
});
