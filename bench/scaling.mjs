// Part of `npm run bench` (also `node bench/scaling.mjs [seconds]` on its own, after `npm run build`):
// what the shared state costs and what more processes buy. Prints JSON on stdout.
//
// - the admitted 4 KiB PUT with the memory ledger vs the Redis ledger;
// - the Redis ledger's decision alone (reserve + release), one at a time and 64 at once;
// - small GET and 4 KiB PUT with workers: 1, 2 and auto.
// Every figure comes with CPU time per request, summed over the gateway's processes
// (and Redis'), which shows the cost even where the load generator shares the cores.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import YAML from 'yaml';
import { ensureDebianPackage, freePort, start, stop, waitForPort } from './lib/processes.mjs';
import { ensureWrk, putScript, wrk } from './lib/wrk.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const SECONDS = Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 5);
const RUNS = 3;
const REDIS = '/usr/bin/redis-server';
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

ensureWrk();
ensureDebianPackage(REDIS, 'redis-server');
const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-scaling-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const log = (line) => console.error(line);

// ---- the origin: a sample origin that stores what it is sent (the same as the demo's)
const originPort = await freePort();
const origin = start(process.execPath, ['--input-type=module', '-e', `
import http from 'node:http';
const small = Buffer.alloc(1024, 'x');
http.createServer((req, res) => {
  if (req.method === 'GET') return res.end(small);
  req.resume().on('end', () => { res.statusCode = 201; res.end(); });
}).listen(${originPort}, '127.0.0.1');
`]);
await waitForPort(originPort, 'the origin');

// ---- Redis, with its own config
const redisPort = await freePort();
writeFileSync(path.join(dir, 'redis.conf'), `port ${redisPort}\nbind 127.0.0.1\ndir ${dir}\nsave ""\nappendonly no\n`);
const redis = start(REDIS, [path.join(dir, 'redis.conf')]);
await waitForPort(redisPort, 'redis-server');
const redisUrl = `redis://127.0.0.1:${redisPort}`;

const roomy = path.join(dir, 'roomy');
mkdirSync(roomy);

/** CPU seconds (user + system) a process and its children have used so far. */
function cpuSeconds(pid) {
  // pgrep exits 1 when there are no children.
  const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  const pids = [pid, ...children];
  let ticks = 0;
  for (const p of pids) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // gone meanwhile
    }
  }
  return ticks / TICK;
}

/** A gateway process on its own port; resolves once it logged that it listens. */
async function gateway(name, values) {
  const port = await freePort();
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, YAML.stringify({
    listen: { host: '127.0.0.1', port },
    admin: { host: '127.0.0.1', port: 0 },
    origins: [{ name: 'origin', url: `http://127.0.0.1:${originPort}`, headroom: { local: { paths: [roomy] } } }],
    routes: [{ origin: 'origin' }],
    log: { level: 'warn', ...(values.log ?? {}) },
    ...values,
  }));
  const child = start(process.execPath, [path.join(root, 'dist/src/cli.js'), 'proxy', '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  readline.createInterface({ input: child.stdout }).on('line', () => undefined);
  await waitForPort(port, name);
  await new Promise((r) => setTimeout(r, 1500)); // first snapshots
  return { name, child, url: `http://127.0.0.1:${port}` };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** RUNS rounds, every target once per round, in turn; requests/s, p99 and CPU ms per 1,000 requests. */
async function inTurn(targets, urlPath, options) {
  for (const t of targets) await wrk(t.url + urlPath, { ...options, seconds: 2 });
  const runs = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const t of targets) {
      const cpuBefore = cpuSeconds(t.child.pid) + cpuSeconds(redis.pid);
      const r = await wrk(t.url + urlPath, { ...options, seconds: SECONDS });
      const cpu = cpuSeconds(t.child.pid) + cpuSeconds(redis.pid) - cpuBefore;
      runs[t.name].push({ ...r, cpuMsPer1k: (cpu * 1000) / ((r.rps * SECONDS) / 1000) });
    }
  }
  return Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, {
    rps: median(r.map((x) => x.rps)), rpsRuns: r.map((x) => x.rps), p99Ms: median(r.map((x) => x.p99Ms)), cpuMsPer1k: median(r.map((x) => x.cpuMsPer1k)), non2xx: r.map((x) => x.non2xx),
  }]));
}

const results = { machine: { cpus: os.cpus().length, cpu: os.cpus()[0].model, availableParallelism: os.availableParallelism() }, seconds: SECONDS, runs: RUNS };
const put4k = putScript(dir, 'put4k', 4096);

// ---- the ledger's cost on the request path
log('  4 KiB PUT admitted: memory ledger vs Redis ledger');
const memory = await gateway('memory ledger', {});
const shared = await gateway('Redis ledger', { ledger: { backend: 'redis', url: redisUrl } });
results.ledger = await inTurn([memory, shared], '/put/x', { script: put4k });
await Promise.all([memory, shared].map((g) => stop(g.child)));

// ---- the decision alone: reserve + release against Redis, timed in this process
log('  Redis ledger: reserve + release latency');
const { RedisLedger } = await import(path.join(root, 'dist/src/ledger/redis-ledger.js'));
const { createLogger } = await import(path.join(root, 'dist/src/log/log.js'));
const ledger = new RedisLedger({ url: redisUrl, sentinel: { name: '', addresses: [] }, leaseTimeMs: 10_000, timeoutMs: 1000, onUnavailable: 'reject', keepMs: () => 20_000, logger: createLogger('silent') });
await ledger.connected(5000);
const ask = () => ({ volumeKey: 'bench\u0000/v', bytes: 4096, inodes: 1, roomBytes: 1e12, roomInodes: 1e9, since: Date.now() - 500 });
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
async function timed(concurrency, total) {
  const took = [];
  let next = 0;
  const worker = async () => {
    while (next++ < total) {
      const t0 = performance.now();
      const answer = await ledger.reserve(ask());
      took.push(performance.now() - t0);
      if (answer.granted) answer.reservation.release({ bytes: 4096, inodes: 1 });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { p50Ms: percentile(took, 0.5), p99Ms: percentile(took, 0.99), asks: total };
}
await timed(8, 2000); // warm-up (scripts loaded, connection warm)
results.decision = { 'one at a time': await timed(1, 5000), '64 at once': await timed(64, 20_000) };
await ledger.close();

// ---- workers
log('  workers: 1, 2, auto');
const groups = [];
for (const workers of [1, 2, 'auto']) groups.push(await gateway(`workers: ${workers}`, { workers }));
results.workers = {
  'small GET (1 KiB)': await inTurn(groups, '/small', {}),
  '4 KiB PUT admitted': await inTurn(groups, '/put/x', { script: put4k }),
};
await Promise.all(groups.map((g) => stop(g.child)));

await Promise.all([origin, redis].map(stop));
console.log(JSON.stringify(results));
