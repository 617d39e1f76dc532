// `npm run bench`: Headroom against a direct origin, a bare http-proxy, and nginx,
// side by side in one run on this machine. Prints one table; writes JSON under
// bench/results/; with --write also rewrites bench/RESULTS.md.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { ensureNginx, startNginx } from './lib/nginx.mjs';
import { freePort, start, stop, waitForPort } from './lib/processes.mjs';
import { ensureWrk, putScript, wrk } from './lib/wrk.mjs';
import { ensureValgrind, instructionsPerRequest } from './lib/callgrind.mjs';
import { report } from './lib/report.mjs';

const run = promisify(execFile);
const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const RUNS = 3;
const STREAM_BYTES = 2 * 1024 ** 3;

ensureNginx();
ensureWrk();
const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// ---- the pieces, each on its own loopback port
const ports = Object.fromEntries(await Promise.all(['origin', 'nginx', 'sink', 'bare', 'bareSink', 'headroom', 'headroomSink', 'traced', 'sampled', 'otlp'].map(async (k) => [k, await freePort()])));
const nginx = await startNginx(dir, { originPort: ports.origin, proxyPort: ports.nginx, sinkPort: ports.sink });
const sink = start(process.execPath, [path.join(here, 'sink-origin.mjs'), String(ports.sink)]);
const bareArgs = (port, origin) => [path.join(here, 'bare-proxy.mjs'), String(port), origin];
const bare = start(process.execPath, bareArgs(ports.bare, `http://127.0.0.1:${ports.origin}`));
const bareSink = start(process.execPath, bareArgs(ports.bareSink, `http://127.0.0.1:${ports.sink}`));
const otlp = http.createServer((req, res) => req.resume().on('end', () => res.end('{}'))).listen(ports.otlp, '127.0.0.1');

const roomy = path.join(dir, 'roomy');
const tiny = path.join(dir, 'tiny');
mkdirSync(roomy);
mkdirSync(tiny);
writeFileSync(path.join(tiny, 'stored'), Buffer.alloc(6 * 1024));

/** A Headroom config file for `port`, in front of the suite's origins. */
function headroomConfig(port, traces, access = true) {
  const file = path.join(dir, `headroom-${port}.yaml`);
  writeFileSync(file, YAML.stringify({
    listen: { host: '127.0.0.1', port },
    admin: { host: '127.0.0.1', port: 0 },
    origins: [
      { name: 'origin', url: `http://127.0.0.1:${ports.origin}`, headroom: { local: { paths: [roomy] } } },
      { name: 'sink', url: `http://127.0.0.1:${ports.sink}`, headroom: { local: { paths: [roomy] } } },
      { name: 'full', url: `http://127.0.0.1:${ports.origin}`, headroom: { local: { paths: [tiny], capacity: '8KiB' } } },
    ],
    routes: [
      { match: { pathPrefix: '/sink/' }, origin: 'sink' },
      { match: { pathPrefix: '/full/' }, origin: 'full' },
      { match: { pathPrefix: '/' }, origin: 'origin' },
    ],
    telemetry: { traces: traces ? { exporter: 'otlp', endpoint: `http://127.0.0.1:${ports.otlp}` } : { exporter: 'none' } },
    log: { access },
  }));
  return file;
}
const headroomArgs = (port, traces, access = true) => [path.join(root, 'dist/src/cli.js'), 'proxy', '--config', headroomConfig(port, traces, access)];
const guard = start(process.execPath, headroomArgs(ports.headroom, false));
const traced = start(process.execPath, headroomArgs(ports.traced, true));
// The lever an operator has when every request's spans cost too much: the standard sampler variables.
const SAMPLING = { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' };
const sampled = start(process.execPath, headroomArgs(ports.sampled, true), { env: { ...process.env, ...SAMPLING } });
// The streamed PUT goes through proxies that served nothing else, so that
// their peak RSS is the stream's, not what the load scenarios left behind.
const guardSink = start(process.execPath, headroomArgs(ports.headroomSink, false));
await Promise.all([
  waitForPort(ports.sink, 'the sink origin'),
  waitForPort(ports.bare, 'the bare proxy'),
  waitForPort(ports.bareSink, 'the bare proxy (sink)'),
  waitForPort(ports.headroom, 'Headroom'),
  waitForPort(ports.headroomSink, 'Headroom (sink)'),
  waitForPort(ports.traced, 'Headroom (tracing on)'),
  waitForPort(ports.sampled, 'Headroom (tracing, 10% sampled)'),
]);
await new Promise((r) => setTimeout(r, 1500)); // first snapshots

const targets = {
  direct: `http://127.0.0.1:${ports.origin}`,
  'bare http-proxy': `http://127.0.0.1:${ports.bare}`,
  nginx: `http://127.0.0.1:${ports.nginx}`,
  headroom: `http://127.0.0.1:${ports.headroom}`,
  'headroom + tracing': `http://127.0.0.1:${ports.traced}`,
  'headroom + tracing, 10% sampled': `http://127.0.0.1:${ports.sampled}`,
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = (runs) => {
  const rps = runs.map((r) => r.rps);
  return { rps: median(rps), rpsMin: Math.min(...rps), rpsMax: Math.max(...rps), p99Ms: median(runs.map((r) => r.p99Ms)), runs: rps, non2xx: runs.map((r) => r.non2xx), socketErrors: runs.map((r) => r.socketErrors) };
};

/**
 * A warm-up per target, then RUNS rounds in which every target runs once,
 * in turn: the machine's drift (other tenants, thermal, the page cache)
 * falls on all targets alike, and each round gives a ratio between targets
 * measured seconds apart.
 */
async function measureInTurn(urls, options) {
  for (const url of Object.values(urls)) await wrk(url, { ...options, seconds: 2 });
  const runs = Object.fromEntries(Object.keys(urls).map((name) => [name, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const [name, url] of Object.entries(urls)) runs[name].push(await wrk(url, { ...options, seconds: SECONDS }));
  }
  return Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, summary(r)]));
}

const results = { machine: machine(), seconds: SECONDS, runs: RUNS, scenarios: {} };
const put4k = putScript(dir, 'put4k', 4096);
const put4kExpect = putScript(dir, 'put4k-expect', 4096, { Expect: '100-continue' });

console.error(`measuring: ${RUNS} rounds of ${SECONDS} s per target, targets in turn, after a 2 s warm-up each`);
for (const [name, options, pathName, only] of [
  ['small GET (1 KiB), 64 connections', {}, '/small', null],
  ['4 KiB PUT admitted, 64 connections', { script: put4k }, '/put/x', ['direct', 'bare http-proxy', 'nginx', 'headroom', 'headroom + tracing']],
  ['4 KiB PUT refused (507), 64 connections', { script: put4k }, '/full/x', ['headroom', 'headroom + tracing']],
  ['4 KiB PUT refused (507) with Expect, 64 connections', { script: put4kExpect }, '/full/x', ['headroom']],
]) {
  console.error(`  ${name}`);
  const urls = Object.fromEntries(Object.entries(targets).filter(([target]) => !only || only.includes(target)).map(([target, base]) => [target, base + pathName]));
  results.scenarios[name] = await measureInTurn(urls, options);
}

// ---- one 2 GiB streamed PUT per run: MB/s, and the proxy's peak RSS sampled during it
const sparse = path.join(dir, 'sparse-2g');
writeFileSync(sparse, '');
truncateSync(sparse, STREAM_BYTES);
const nginxWorker = Number(execFileSync('pgrep', ['-P', String(nginx.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
const streamTargets = {
  direct: [`http://127.0.0.1:${ports.sink}/sink/x`, null],
  'bare http-proxy': [`http://127.0.0.1:${ports.bareSink}/sink/x`, bareSink.pid],
  nginx: [`http://127.0.0.1:${ports.nginx}/sink/x`, nginxWorker],
  headroom: [`http://127.0.0.1:${ports.headroomSink}/sink/x`, guardSink.pid],
};
const rssOf = (pid) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const speeds = Object.fromEntries(Object.keys(streamTargets).map((target) => [target, []]));
const peaks = Object.fromEntries(Object.keys(streamTargets).map((target) => [target, []]));
for (let i = 0; i < RUNS; i++) {
  for (const [target, [url, pid]] of Object.entries(streamTargets)) {
    console.error(`  2 GiB streamed PUT → ${target} (round ${i + 1})`);
    let peak = 0;
    const sampler = pid ? setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50) : null;
    const { stdout } = await run('curl', ['-sS', '-H', 'Expect:', '-T', sparse, '-o', '/dev/null', '-w', '%{speed_upload} %{http_code}', url]);
    if (sampler) clearInterval(sampler);
    peaks[target].push(peak);
    const [speed, code] = stdout.trim().split(' ');
    if (code !== '201') throw new Error(`2 GiB PUT to ${target} answered ${code}`);
    speeds[target].push(Number(speed) / 1e6);
  }
}
const streaming = Object.fromEntries(Object.entries(speeds).map(([target, mbps]) => [
  target,
  { mbps: median(mbps), mbpsMin: Math.min(...mbps), mbpsMax: Math.max(...mbps), runs: mbps, peakRssMiB: streamTargets[target][1] ? Math.max(...peaks[target]) : null, peakRssRuns: peaks[target] },
]));
results.scenarios['2 GiB streamed PUT'] = streaming;

// ---- the decision alone, in a process of its own (no servers, no leftover garbage)
console.error('  admission decision, route match and /status by size of configuration');
const { stdout: scaleRuns } = await run(process.execPath, [path.join(here, 'decision.mjs'), String(RUNS)], { maxBuffer: 1 << 22 });
const scale = JSON.parse(scaleRuns);
const spread = (runs) => ({ us: median(runs), usMin: Math.min(...runs), usMax: Math.max(...runs) });
const bySize = (of) => Object.fromEntries(Object.entries(of).map(([n, runs]) => [n, spread(runs)]));
results.decision = bySize(scale.decision);
results.decisionByRoutes = bySize(scale.decisionByRoutes);
results.routeMatch = bySize(scale.routeMatch);
results.status = Object.fromEntries(Object.entries(scale.status).map(([n, s]) => [n, { ms: median(s.ms), usPerVolume: median(s.usPerVolume), usPerVolumeMin: Math.min(...s.usPerVolume), usPerVolumeMax: Math.max(...s.usPerVolume), holdMs: median(s.holdMs), holdMaxMs: Math.max(...s.holdMaxMs), pageMs: median(s.pageMs), pageHoldMs: median(s.pageHoldMs), readyzMs: median(s.readyzMs), bytes: s.bytes }]));

// ---- shared state and more processes: the Redis ledger, workers (a process of its own, after the rest is stopped)
await Promise.all([guard, guardSink, traced, sampled].map(stop));
console.error('  ledger and workers');
const { stdout: scaling } = await run(process.execPath, [path.join(here, 'scaling.mjs'), String(SECONDS)], { maxBuffer: 1 << 22 });
results.scaling = JSON.parse(scaling);

// ---- nginx deciding with Headroom's decision endpoint (a process of its own, like the scaling figures)
console.error('  decision endpoint');
const { stdout: deciding } = await run(process.execPath, [path.join(here, 'decide.mjs'), String(SECONDS)], { maxBuffer: 1 << 22 });
results.decide = JSON.parse(deciding);

// ---- large PROPFIND answers through the quota fill: peak RSS by answer size (a gateway process per answer)
console.error('  large PROPFIND answers');
const { stdout: listing } = await run(process.execPath, [path.join(here, 'propfind.mjs'), String(RUNS)], { maxBuffer: 1 << 22 });
results.propfind = JSON.parse(listing);

// ---- instructions per request, which the machine's noise does not move
ensureValgrind();
console.error('  instructions per request (callgrind; about a minute per figure)');
const origin = `http://127.0.0.1:${ports.origin}`;
const counted = {
  'bare http-proxy': (port) => bareArgs(port, origin),
  headroom: (port) => headroomArgs(port, false),
  'headroom, access lines off': (port) => headroomArgs(port, false, false),
  'headroom + tracing': (port) => headroomArgs(port, true),
};
const counts = [
  ['small GET (1 KiB)', '/small', null, Object.keys(counted)],
  ['4 KiB PUT admitted', '/put/x', 4096, ['bare http-proxy', 'headroom', 'headroom, access lines off']],
  ['4 KiB PUT refused (507)', '/full/x', 4096, ['headroom']],
].flatMap(([scenario, urlPath, body, who]) => who.map((target) => ({ scenario, target, urlPath, body })));
results.instructions = {};
for (let i = 0; i < counts.length; i += 2) {
  // Two at a time, one per core: callgrind's counts do not depend on sharing.
  await Promise.all(counts.slice(i, i + 2).map(async ({ scenario, target, urlPath, body }) => {
    const perRequest = await instructionsPerRequest({ launch: counted[target], path: urlPath, body });
    (results.instructions[scenario] ??= {})[target] = perRequest;
  }));
}
// Per byte streamed: one 64 MiB PUT to the discarding origin, after two to warm up.
const STREAM_SAMPLE = 64 * 1024 ** 2;
const sinkUrl = `http://127.0.0.1:${ports.sink}`;
const streamCounted = { 'bare http-proxy': (port) => bareArgs(port, sinkUrl), headroom: (port) => headroomArgs(port, false) };
results.streamInstructions = Object.fromEntries(await Promise.all(Object.entries(streamCounted).map(async ([target, launch]) => {
  const perRequest = await instructionsPerRequest({ launch, path: '/sink/x', body: STREAM_SAMPLE, warm: 2, count: 1 });
  return [target, perRequest / (STREAM_SAMPLE / 1024 ** 2)];
})));

await Promise.all([bare, bareSink, sink, nginx].map(stop));
otlp.close();

// ---- the report
const table = report(results);
console.log(table);
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify(results, null, 2));
if (process.argv.includes('--write')) {
  const notes = readFileSync(path.join(here, 'NOTES.md'), 'utf8');
  writeFileSync(path.join(here, 'RESULTS.md'), `# Benchmark results\n\n\`npm run bench -- --write\`, ${new Date().toISOString()}.\n\n${table}\n\n${notes}`);
}

function machine() {
  // nginx and wrk print their versions on stderr, wrk with exit code 1.
  const version = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout}${r.stderr}`.split('\n')[0].trim();
  };
  return {
    cpu: `${os.cpus()[0].model} × ${os.cpus().length}`,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: version('/usr/sbin/nginx', ['-v']),
    wrk: version('/usr/bin/wrk', ['-v']),
  };
}
