import http from 'node:http';
import net from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import t, { type Test } from 'tap';
import { freePort, request, serve, until } from './helpers/http.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { startTestOrigin } from './helpers/origin.js';
import { spawnGateway, spawnGatewayFor, type GatewayProcess } from './helpers/process.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';
import { writeBody } from './helpers/upload.js';

// `headroom proxy` with `workers: 2`, as a user runs it: a primary and two
// workers on one port (docs/workers.md).

const MiB = 1024 * 1024;

const statusOf = async (gateway: GatewayProcess): Promise<{ generation: number; reservedBytes: number }> =>
  JSON.parse((await request(`${gateway.adminUrl}/status`)).body.toString()) as { generation: number; reservedBytes: number };

/** The group's processes but the primary: its children. */
const workerPids = (gateway: GatewayProcess): number[] =>
  readFileSync(`/proc/${gateway.child.pid}/task/${gateway.child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

interface Family {
  readonly type: string;
  readonly samples: Array<{ readonly name: string; readonly labels: Record<string, string>; readonly value: number }>;
}

/**
 * Prometheus text, parsed strictly enough to catch a bad merge: every
 * family's HELP and TYPE exactly once, before its samples, and a family's
 * samples together.
 */
function parseExposition(t: Test, text: string): Map<string, Family> {
  const families = new Map<string, Family & { help: number; typed: number }>();
  let current: string | null = null;
  const closed = new Set<string>();
  for (const line of text.split('\n').filter(Boolean)) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const name = meta[2]!;
      if (current !== null && current !== name) closed.add(current);
      if (closed.has(name)) t.fail(`family ${name} appears twice`);
      current = name;
      const f = families.get(name) ?? { type: '', samples: [], help: 0, typed: 0 };
      families.set(name, f);
      if (meta[1] === 'HELP') f.help++;
      else Object.assign(f, { type: meta[3], typed: f.typed + 1 });
      continue;
    }
    if (line.startsWith('# UNIT ')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) {
      t.fail(`not a sample line: ${line}`);
      continue;
    }
    if (current === null || !sample[1]!.startsWith(current)) t.fail(`sample ${sample[1]} outside its family (${current})`);
    const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    families.get(current!)?.samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  for (const [name, f] of families) if (f.help !== 1 || f.typed !== 1) t.fail(`family ${name}: ${f.help} HELP and ${f.typed} TYPE lines`);
  return families;
}

/** A PUT on a fresh connection: with Content-Length, or chunked in 64 KiB writes. */
function upload(url: string, bytes: number, chunked: boolean): Promise<{ status: number; server: string | undefined; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'PUT', agent: false, headers: chunked ? {} : { 'content-length': String(bytes) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, server: String(res.headers.server ?? '') }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, server: undefined, error: err.code ?? err.message }));
    writeBody(req, bytes);
  });
}

/** A counting stand-in for `headroom agent`: it reports the real figures of `dir`'s filesystem as `mount`. */
async function countingAgent(t: Test, dir: string, mount: string): Promise<{ url: string; polls: () => number }> {
  let polls = 0;
  const url = await serve(t, (_req, res) => {
    polls++;
    const s = statfsSync(dir);
    const volume = { mount, filesystem: 'tmpfs', totalBytes: s.blocks * s.bsize, freeBytes: s.bfree * s.bsize, availableBytes: s.bavail * s.bsize, totalInodes: s.files, freeInodes: s.ffree };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ host: 'store', time: new Date().toISOString(), volumes: [volume] }));
  });
  return { url, polls: () => polls };
}

withTmpfs(t, 'workers: 2 on one memory ledger: 16 concurrent uploads onto 16 MiB behind Apache never overcommit; /metrics counts each decision once; the agent is polled once per interval', async (t) => {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  const agent = await countingAgent(t, volume, '/srv/dav');
  const gateway = await spawnGateway({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    workers: 2,
    ledger: { backend: 'memory' },
    origins: [{ name: 'dav', url: apache.url, headroom: { agent: { url: agent.url, interval: '200ms' } } }],
    routes: [{ origin: 'dav', volume: '/srv/dav' }],
    policy: { reserve: '1MiB', unknownLength: '1MiB', onUnknown: 'reject' },
  });
  t.teardown(() => gateway.kill());
  await until(async () => (await request(`${gateway.adminUrl}/readyz`)).status === 200, 'a fresh snapshot', 10_000);

  const before = agent.polls();
  const window = 2_000;
  await new Promise((r) => setTimeout(r, window)); // a span of time to count polls in, not a synchronisation
  const polled = agent.polls() - before;
  // 200 ms ± 10%: 9 to 11 polls in 2 s for one poller, twice that for two.
  t.ok(polled >= 7 && polled <= 13, `the agent was polled ${polled} times in ${window} ms: once per interval, by the primary alone`);

  const usable = statfsSync(volume).bavail * statfsSync(volume).bsize - MiB;
  const sizes = Array.from({ length: 16 }, (_, i) => (2 * MiB) + (i % 4) * 256 * 1024);
  const results = await Promise.all(sizes.map((bytes, i) => upload(`${gateway.url}/u${i}.bin`, bytes, i % 2 === 1)));
  const fromApache507 = results.filter((r) => r.status === 507 && r.server !== 'headroom');
  t.same(fromApache507, [], 'Apache never answered 507');
  const admitted = sizes.filter((_, i) => results[i]!.status === 201).reduce((a, b) => a + b, 0);
  t.ok(admitted <= usable, `admitted ${admitted} bytes ≤ ${usable} usable`);
  t.ok(results.some((r) => r.status === 201), 'some uploads were stored');
  t.ok(results.some((r) => r.status === 507), 'some were refused (32 MiB were sent at 15 MiB of room)');
  t.same(results.filter((r) => r.status !== 201 && r.status !== 507), [], 'every upload got 201 or the gateway’s 507');
  await until(async () => (await statusOf(gateway)).reservedBytes === 0, 'the group’s ledger back to 0');

  const metrics = await request(`${gateway.adminUrl}/metrics`);
  t.equal(metrics.status, 200);
  const families = parseExposition(t, metrics.body.toString());
  const decisions = families.get('headroom_decisions_total')?.samples ?? [];
  const sum = (worker?: string) => decisions.filter((s) => worker === undefined || s.labels.worker === worker).reduce((a, s) => a + s.value, 0);
  t.equal(sum(), 16, 'the decisions counted over every worker are the uploads sent');
  t.ok(sum('1') > 0 && sum('2') > 0, `both workers decided some (${sum('1')} and ${sum('2')})`);
  t.ok(decisions.every((s) => s.labels.worker === '1' || s.labels.worker === '2'), 'each decision sample names its worker');
  t.equal(families.get('headroom_volume_total_bytes')?.samples.length, 1, 'the volume’s figures once, from the primary');
});

/** A group in front of one file-storing origin whose directory the primary reads. */
async function group(t: Test, more: Record<string, unknown> = {}) {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const config = (extra: Record<string, unknown> = {}) => ({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    workers: 2,
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [origin.root], capacity: '1GiB', interval: '200ms' } } }],
    routes: [{ match: { pathPrefix: '/a/' }, origin: 'files' }],
    policy: { unknownLength: '1MiB' },
    ...more,
    ...extra,
  });
  const gateway = await spawnGateway(config());
  t.teardown(() => gateway.kill());
  await until(async () => (await request(`${gateway.adminUrl}/readyz`)).status === 200, 'a fresh snapshot', 10_000);
  return { origin, gateway, config };
}

/** A chunked PUT that sends `first` bytes and waits; `finish` sends the rest and resolves with the status, `abort` cuts it. */
function stalledUpload(url: string, first: number) {
  const req = http.request(url, { method: 'PUT', agent: false });
  const answered = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', () => resolve(0));
  });
  req.write(Buffer.alloc(first, 5));
  return {
    finish: (rest: number): Promise<number> => {
      req.end(Buffer.alloc(rest, 5));
      return answered;
    },
    abort: () => req.destroy(),
  };
}

t.test('SIGTERM drains every worker: an upload in flight completes, then the group exits 0', async (t) => {
  const { origin, gateway } = await group(t);
  mkdirSync(path.join(origin.root, 'a'));
  const uploads = Array.from({ length: 4 }, (_, i) => stalledUpload(`${gateway.url}/a/drain${i}.bin`, 256 * 1024));
  await until(async () => (await statusOf(gateway)).reservedBytes >= 4 * MiB - 4 * 256 * 1024, 'four uploads admitted and streaming');
  gateway.child.kill('SIGTERM');
  await until(() => gateway.lines.some((l) => l.msg === 'stopping'), 'the primary to start stopping');
  const statuses = await Promise.all(uploads.map((u) => u.finish(512 * 1024)));
  t.same(statuses, [201, 201, 201, 201], 'every upload in flight at SIGTERM completed (on both workers)');
  t.equal(await gateway.exited, 0, 'the group exited 0');
  t.equal(readFileSync(path.join(origin.root, 'a', 'drain0.bin')).length, 768 * 1024, 'the drained upload is whole on the origin');
});

t.test('SIGHUP reloads every worker: a route the reload adds is served by both', async (t) => {
  const { origin, gateway, config } = await group(t);
  mkdirSync(path.join(origin.root, 'b'));
  writeFileSync(path.join(origin.root, 'b', 'x.txt'), 'x');
  const get = () => request(`${gateway.url}/b/x.txt`);
  t.equal((await get()).status, 404, 'before: no route for /b/');
  writeFileSync(gateway.file, YAML.stringify(config({ routes: [{ match: { pathPrefix: '/a/' }, origin: 'files' }, { match: { pathPrefix: '/b/' }, origin: 'files' }], workers: 3 })));
  gateway.child.kill('SIGHUP');
  await until(() => gateway.lines.some((l) => l.msg === 'workers reloaded'), 'the workers to reload');
  t.equal((await statusOf(gateway)).generation, 2, '/status shows generation 2');
  const statuses = await Promise.all(Array.from({ length: 20 }, () => get().then((r) => r.status)));
  t.same(new Set(statuses), new Set([200]), 'every request, on 20 connections, is served by the new route');
  await until(() => new Set(gateway.lines.filter((l) => l.msg === 'access' && l.path === '/b/x.txt' && l.status === 200).map((l) => l.worker)).size === 2, 'both workers to log serving /b/');
  t.ok(gateway.lines.some((l) => l.msg === 'workers settings take effect at the next restart, not on reload'), 'a changed `workers` is said to need a restart');
  t.equal(workerPids(gateway).length, 2, 'and the group keeps its two workers');
});

t.test('a worker killed with -9 is started again and its reservations end at once', async (t) => {
  const { origin, gateway } = await group(t);
  mkdirSync(path.join(origin.root, 'a'));
  const pids = workerPids(gateway);
  t.equal(pids.length, 2, 'two workers');
  const uploads = Array.from({ length: 4 }, (_, i) => stalledUpload(`${gateway.url}/a/kill${i}.bin`, 64 * 1024));
  // The ledger learns what an upload streamed when it grows or ends: until then it holds the whole first stretch.
  await until(async () => (await statusOf(gateway)).reservedBytes === 4 * MiB, 'four uploads holding their first stretch');
  process.kill(pids[0]!, 'SIGKILL');
  await until(() => gateway.lines.some((l) => l.msg === 'worker died; starting another' && l.pid === pids[0]), 'the primary to see the worker die');
  const held = (await statusOf(gateway)).reservedBytes;
  t.ok(held < 4 * MiB, `the dead worker's reservations ended at once (${held} bytes still held by the other's)`);
  await until(() => workerPids(gateway).length === 2 && !workerPids(gateway).includes(pids[0]!), 'another worker in its place');
  const died = gateway.lines.findIndex((l) => l.msg === 'worker died; starting another');
  await until(() => gateway.lines.slice(died).some((l) => l.msg === 'worker listening' && l.worker === 1), 'the new worker 1 listening', 10_000);
  for (const u of uploads) u.abort();
  await until(async () => (await statusOf(gateway)).reservedBytes === 0, 'reservations back to 0');
  const statuses = await Promise.all(Array.from({ length: 10 }, (_, i) => request(`${gateway.url}/a/after${i}.txt`, { method: 'PUT' }, 'a').then((r) => r.status)));
  t.same(new Set(statuses), new Set([201]), 'the group serves on, on both workers');
});

t.test('workers: 2 with the decision endpoint: one endpoint for the group, in the primary (a plugin asking for it); its leases are the group ledger’s, and every end signal finds its lease', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const port = await freePort();
  const volume = mkdtempSync(path.join(os.tmpdir(), 'headroom-workers-decide-'));
  t.teardown(() => rmSync(volume, { recursive: true, force: true }));
  const gateway = await spawnGatewayFor(t, origin.url, {
    workers: 2,
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [volume] } } }],
    plugins: [{ name: 'decide', options: { listen: { host: '127.0.0.1', port } } }],
  });
  await until(async () => (await statusOf(gateway)).generation === 1, 'the group to answer');
  const asks = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    request(`http://127.0.0.1:${port}/`, { agent: false, headers: { 'x-original-method': 'PUT', 'x-original-uri': `/f${i}.bin`, 'x-original-content-length': '1000' } })));
  t.same(asks.map((a) => a.status), Array(8).fill(204), 'every question is answered (the primary and the workers each bound the port before: EADDRINUSE)');
  await until(async () => (await statusOf(gateway)).reservedBytes === 8000, 'the eight leases held in the group ledger', 3000);
  const admin = JSON.parse((await request(`${gateway.adminUrl}/plugins/decide/`)).body.toString()) as { leases: number };
  t.equal(admin.leases, 8, 'its admin route, on the primary’s admin listener, shows the leases');
  // Each on a connection of its own, as a proxy's pool may: one endpoint holds them all.
  for (const a of asks) await request(`http://127.0.0.1:${port}/.headroom/leases/${String(a.headers['x-headroom-lease'])}`, { method: 'DELETE', agent: false });
  await until(async () => (await statusOf(gateway)).reservedBytes === 0, 'the end signals release them', 3000);
});

t.test('clients that leave while their reserve is on its way to the primary or back: every lease ends', async (t) => {
  const { origin, gateway } = await group(t);
  mkdirSync(path.join(origin.root, 'a'));
  const port = Number(new URL(gateway.url).port);
  // Sized and chunked, some with Expect, some with a first piece of body; cut at once or a turn later.
  const leave = (round: number, i: number): Promise<void> =>
    new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(`PUT /a/gone${round}-${i}.bin HTTP/1.1\r\nHost: x\r\n${i % 2 ? 'Content-Length: 100000\r\n' : 'Transfer-Encoding: chunked\r\n'}${i % 3 === 0 ? 'Expect: 100-continue\r\n' : ''}\r\n`);
        if (i % 4 === 0) socket.write(i % 2 ? Buffer.alloc(1000) : `3e8\r\n${'x'.repeat(1000)}\r\n`);
        if (i % 5 === 0) setImmediate(() => socket.destroy());
        else socket.destroy();
        resolve();
      });
      socket.on('error', () => resolve());
    });
  for (let round = 0; round < 5; round++) await Promise.all(Array.from({ length: 100 }, (_, i) => leave(round, i)));
  await until(async () => (await statusOf(gateway)).reservedBytes === 0, 'the group’s ledger back to 0', 10_000);
  const statuses = await Promise.all(Array.from({ length: 4 }, (_, i) => request(`${gateway.url}/a/after${i}.txt`, { method: 'PUT' }, 'a').then((r) => r.status)));
  t.same(new Set(statuses), new Set([201]), 'and it admits writes after');
});
