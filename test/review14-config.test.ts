import t, { type Test } from 'tap';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import readline from 'node:readline';
import YAML from 'yaml';
import { loadGatewayConfig } from '../src/config/load.js';
import os from 'node:os';
import path from 'node:path';
import { freePort, request, serve, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';
import { CLI, spawnGateway, type GatewayProcess } from './helpers/process.js';
import { redisUnavailable, startRedis } from './helpers/redis.js';

// Review of careless ledger settings: whatever ledger.url points at, the
// gateway starts, writes get the onUnavailable answer in bounded time, and
// /status says why.

const skip = redisUnavailable();

async function gatewayWith(t: Test, ledger: Record<string, unknown>): Promise<GatewayProcess> {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-review-vol-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = await spawnGateway({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [dir], interval: '100ms' } } }],
    routes: [{ origin: 'files' }],
    ledger: { backend: 'redis', ...ledger },
    log: { level: 'info' },
  });
  t.teardown(() => gateway.kill());
  return gateway;
}

interface LedgerStatus {
  state: string;
  lastError: string | null;
}

async function ledgerOf(g: GatewayProcess): Promise<LedgerStatus> {
  return (JSON.parse((await request(`${g.adminUrl}/status`)).body.toString()) as { ledger: LedgerStatus }).ledger;
}

/** A PUT of a few bytes; its status and problem, and how long it took. */
async function put(g: GatewayProcess, name: string): Promise<{ status: number; error: string | null; ms: number }> {
  const started = Date.now();
  const reply = await request(`${g.url}/${name}`, { method: 'PUT', headers: { 'content-length': '5' } }, 'hello');
  const error = reply.headers['content-type'] === 'application/problem+json' ? (JSON.parse(reply.body.toString()) as { error: string }).error : null;
  return { status: reply.status, error, ms: Date.now() - started };
}

if (skip) t.test('review: careless ledger settings', { skip }, async () => undefined);
else {
  t.test('ledger.url names an HTTP server: the gateway starts, writes get 503, /status says why', async (t) => {
    const url = await serve(t, (_req, res) => res.end('not redis'));
    const g = await gatewayWith(t, { url: url.replace('http:', 'redis:'), timeout: '200ms' });
    const w = await put(g, 'a.txt');
    t.equal(w.status, 503);
    t.equal(w.error, 'ledger_unavailable');
    t.ok(w.ms < 2000, `answered in ${w.ms} ms`);
    t.equal((await request(`${g.url}/a.txt`)).status, 404, 'reads pass');
    const ledger = await ledgerOf(g);
    t.equal(ledger.state, 'unavailable');
    t.match(ledger.lastError, /RESP|protocol|reply|unexpected|is 127\.0\.0\.1:\d+ a Redis server/i, `lastError says the far end does not speak Redis: ${ledger.lastError}`);
  });

  t.test('a server that accepts and never answers: writes get 503 within the timeout', async (t) => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => sockets.add(s)).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    t.teardown(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    const g = await gatewayWith(t, { url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`, timeout: '200ms' });
    const w = await put(g, 'a.txt');
    t.equal(w.status, 503);
    t.ok(w.ms < 2000, `answered in ${w.ms} ms`);
    t.ok((await ledgerOf(g)).lastError, `lastError: ${(await ledgerOf(g)).lastError}`);
  });

  t.test('a Redis that requires a password, none given: writes get 503, /status says the password is missing', async (t) => {
    const redis = await startRedis(t, { extra: ['requirepass s3cret'] });
    const g = await gatewayWith(t, { url: redis.url, timeout: '200ms', leaseTime: '600ms' });
    const w = await put(g, 'a.txt');
    t.equal(w.status, 503);
    t.equal(w.error, 'ledger_unavailable');
    // Several renewals later, still the reason, not a client-side symptom of it.
    const seen = new Set<string>();
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      seen.add(String((await ledgerOf(g)).lastError));
      await new Promise((r) => setTimeout(r, 50)); // sampling /status over time
    }
    t.ok([...seen].every((e) => /NOAUTH|auth|password/i.test(e)), `lastError names the missing password every time: ${[...seen].join(' | ')}`);
  });

  t.test('with the password, the same Redis is shared', async (t) => {
    const redis = await startRedis(t, { extra: ['requirepass s3cret'] });
    const g = await gatewayWith(t, { url: redis.url.replace('redis://', 'redis://:s3cret@'), timeout: '200ms' });
    await until(async () => (await ledgerOf(g)).state === 'shared', 'the shared ledger');
    t.equal((await put(g, 'a.txt')).status, 201);
  });

  t.test('Redis down at start: the gateway still listens promptly, whatever ledger.timeout says', async (t) => {
    const port = await freePort(); // nothing listens
    const origin = await startTestOrigin();
    t.teardown(() => origin.close());
    const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-review-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(file, YAML.stringify({ listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, origins: [{ name: 'files', url: origin.url }], routes: [{ origin: 'files' }], ledger: { backend: 'redis', url: `redis://127.0.0.1:${port}`, timeout: '50s', leaseTime: '60s' } }));
    const child = spawn(process.execPath, [CLI, 'proxy', '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => void child.kill('SIGKILL'));
    const listening = new Promise<boolean>((resolve) => {
      readline.createInterface({ input: child.stdout! }).on('line', (line) => line.includes('"gateway listening"') && resolve(true));
      setTimeout(resolve, 5000, false); // the test's own limit for "promptly"
    });
    t.ok(await listening, 'the gateway listened within 5 s');
  });

  t.test('ledger.timeout at or past the lease time, and a lease past a day (past Node’s timer range), are refused with their key', async (t) => {
    const check = (ledger: Record<string, unknown>) => {
      const loaded = loadGatewayConfig({ file: null, env: {}, values: { origins: [{ name: 'files', url: 'http://127.0.0.1:9' }], routes: [{ origin: 'files' }], ledger: { backend: 'redis', url: 'redis://127.0.0.1:6379', ...ledger } } });
      return loaded.ok ? [] : loaded.problems;
    };
    t.match(check({ timeout: '1h' }), [/^ledger\.timeout: must be below ledger\.leaseTime \(10000 ms\), got 3600000 ms/]);
    t.match(check({ timeout: '30d', leaseTime: '30d' }), [/^ledger\.leaseTime: at most a day/, /^ledger\.timeout: must be below ledger\.leaseTime/]);
    t.same(check({ timeout: '2s', leaseTime: '10s' }), [], 'a timeout below the lease is fine');
  });
}
