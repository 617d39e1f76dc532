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
import { propfindReport, propfindTarget } from './lib/propfind-report.mjs';

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
function headroomConfig(port, traces) {
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
  }));
  return file;
}
const headroomArgs = (port, traces) => [path.join(root, 'dist/src/cli.js'), 'proxy', '--config', headroomConfig(port, traces)];
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
const peaks = Object.fromEntries(Object.keys(streamTargets).map((target) => [target, 0]));
for (let i = 0; i < RUNS; i++) {
  for (const [target, [url, pid]] of Object.entries(streamTargets)) {
    console.error(`  2 GiB streamed PUT → ${target} (round ${i + 1})`);
    const sampler = pid ? setInterval(() => (peaks[target] = Math.max(peaks[target], rssOf(pid))), 50) : null;
    const { stdout } = await run('curl', ['-sS', '-H', 'Expect:', '-T', sparse, '-o', '/dev/null', '-w', '%{speed_upload} %{http_code}', url]);
    if (sampler) clearInterval(sampler);
    const [speed, code] = stdout.trim().split(' ');
    if (code !== '201') throw new Error(`2 GiB PUT to ${target} answered ${code}`);
    speeds[target].push(Number(speed) / 1e6);
  }
}
const streaming = Object.fromEntries(Object.entries(speeds).map(([target, mbps]) => [
  target,
  { mbps: median(mbps), mbpsMin: Math.min(...mbps), mbpsMax: Math.max(...mbps), runs: mbps, peakRssMiB: streamTargets[target][1] ? peaks[target] : null },
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
const counted = { 'bare http-proxy': (port) => bareArgs(port, origin), headroom: (port) => headroomArgs(port, false), 'headroom + tracing': (port) => headroomArgs(port, true) };
const counts = [
  ['small GET (1 KiB)', '/small', null, Object.keys(counted)],
  ['4 KiB PUT admitted', '/put/x', 4096, ['bare http-proxy', 'headroom']],
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

/** The ledger's and the workers' tables (bench/scaling.mjs). */
function scalingReport(sc, fmt) {
  const lines = [];
  const row = (m) => `${fmt(m.rps)} · p99 ${fmt(m.p99Ms, 2)} ms · ${fmt(m.cpuMsPer1k)} ms CPU per 1,000 requests`;
  lines.push(`| 4 KiB PUT admitted, 64 connections | requests/s · p99 · CPU (gateway + Redis) |`);
  lines.push('|---|---|');
  for (const [name, m] of Object.entries(sc.ledger)) lines.push(`| ${name} | ${row(m)} |`);
  lines.push('');
  lines.push('| Redis ledger decision (reserve, then release; timed in the caller) | p50 | p99 |');
  lines.push('|---|---|---|');
  for (const [name, m] of Object.entries(sc.decision)) lines.push(`| ${name} (${fmt(m.asks)} asks) | ${fmt(m.p50Ms, 3)} ms | ${fmt(m.p99Ms, 3)} ms |`);
  lines.push('');
  const groups = Object.keys(Object.values(sc.workers)[0]);
  lines.push(`| workers (${sc.machine.cpus} cores: wrk shares them) | ${groups.join(' | ')} |`);
  lines.push(`|---|${groups.map(() => '---').join('|')}|`);
  for (const [scenario, byGroup] of Object.entries(sc.workers)) lines.push(`| ${scenario} | ${groups.map((g) => row(byGroup[g])).join(' | ')} |`);
  return lines;
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

function report(r) {
  const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const cell = (m) => (m ? `${fmt(m.rps)} [${fmt(m.rpsMin)}–${fmt(m.rpsMax)}] · p99 ${fmt(m.p99Ms, 2)} ms` : '–');
  const lines = [];
  lines.push(`Machine: ${r.machine.cpu}, ${r.machine.memoryGiB} GiB, ${r.machine.kernel}; Node ${r.machine.node}; ${r.machine.nginx}; ${r.machine.wrk}.`);
  lines.push(`Each figure: the median of ${r.runs} runs of ${r.seconds} s, [lowest–highest run]; the targets of a scenario run in turn, round after round, after a 2 s warm-up each, and a ratio between targets is the median of the rounds' ratios. Load: wrk -t2. nginx: 1 worker, proxy_request_buffering off, keep-alive upstreams. Instructions: valgrind's callgrind, the proxy's main thread, 1,000 sequential requests on one connection after 3,000 to warm up.`);
  lines.push('');
  const names = Object.keys(targets);
  lines.push(`| requests/s | ${names.join(' | ')} |`);
  lines.push(`|---|${names.map(() => '---').join('|')}|`);
  for (const [scenario, byTarget] of Object.entries(r.scenarios)) {
    if (scenario.startsWith('2 GiB')) continue;
    lines.push(`| ${scenario} | ${names.map((n) => cell(byTarget[n])).join(' | ')} |`);
  }
  lines.push('');
  lines.push('| 2 GiB streamed PUT (curl -T, origin discards) | MB/s [lowest–highest] | proxy peak RSS | instructions per MiB (callgrind, main thread, 64 MiB PUT) |');
  lines.push('|---|---|---|---|');
  for (const [target, m] of Object.entries(r.scenarios['2 GiB streamed PUT'])) {
    const perMiB = r.streamInstructions[target];
    lines.push(`| ${target} | ${fmt(m.mbps)} [${fmt(m.mbpsMin)}–${fmt(m.mbpsMax)}] | ${m.peakRssMiB === null ? '–' : `${fmt(m.peakRssMiB)} MiB`} | ${perMiB ? `${fmt(perMiB / 1000)} k` : '–'} |`);
  }
  lines.push('');
  lines.push('| admission decision (bench/decision.mjs) | µs per decision [lowest–highest] |');
  lines.push('|---|---|');
  for (const [n, m] of Object.entries(r.decision)) lines.push(`| ${n} volumes, 1,000 routes | ${fmt(m.us, 2)} [${fmt(m.usMin, 2)}–${fmt(m.usMax, 2)}] |`);
  for (const [n, m] of Object.entries(r.decisionByRoutes ?? {})) lines.push(`| 1 volume, ${n} routes | ${fmt(m.us, 2)} [${fmt(m.usMin, 2)}–${fmt(m.usMax, 2)}] |`);
  if (r.routeMatch) {
    lines.push('');
    lines.push('| route match | µs per match [lowest–highest] |');
    lines.push('|---|---|');
    for (const [n, m] of Object.entries(r.routeMatch)) lines.push(`| ${n} routes | ${fmt(m.us, 3)} [${fmt(m.usMin, 3)}–${fmt(m.usMax, 3)}] |`);
  }
  if (r.status) {
    lines.push('');
    lines.push('| /status (32 snapshots of history per volume) | ms per answer | µs per volume listed [lowest–highest] | event loop held by a 16 KiB chunk, ms: p99, longest | status page: ms, p99 hold | /readyz ms | bytes |');
    lines.push('|---|---|---|---|---|---|---|');
    for (const [n, m] of Object.entries(r.status)) lines.push(`| ${n} volumes | ${fmt(m.ms, 2)} | ${fmt(m.usPerVolume, 1)} [${fmt(m.usPerVolumeMin, 1)}–${fmt(m.usPerVolumeMax, 1)}] | ${fmt(m.holdMs, 2)}, ${fmt(m.holdMaxMs, 2)} | ${fmt(m.pageMs, 2)}, ${fmt(m.pageHoldMs, 2)} | ${fmt(m.readyzMs, 3)} | ${m.bytes} |`);
  }

  lines.push('');
  const counted = ['bare http-proxy', 'headroom', 'headroom + tracing'];
  lines.push(`| instructions per request (callgrind, main thread) | ${counted.join(' | ')} |`);
  lines.push(`|---|${counted.map(() => '---').join('|')}|`);
  for (const [scenario, byTarget] of Object.entries(r.instructions)) {
    lines.push(`| ${scenario} | ${counted.map((n) => (byTarget[n] ? `${fmt(byTarget[n] / 1000)} k` : '–')).join(' | ')} |`);
  }

  lines.push('');
  lines.push(...scalingReport(r.scaling, fmt));

  lines.push('');
  const deciders = ['nginx', 'nginx + decision endpoint', 'headroom as the proxy'];
  lines.push(`| requests/s (bench/decide.mjs) | ${deciders.join(' | ')} |`);
  lines.push(`|---|${deciders.map(() => '---').join('|')}|`);
  for (const [scenario, byTarget] of Object.entries(r.decide.scenarios)) lines.push(`| ${scenario} | ${deciders.map((n) => cell(byTarget[n])).join(' | ')} |`);

  lines.push('');
  lines.push(...propfindReport(r.propfind, fmt));

  const s = r.scenarios;
  const ratio = (a, b) => (a && b ? a / b : NaN);
  // Each round ran its targets seconds apart: the median of the rounds' ratios.
  const paired = (scenario, a, b) => median(s[scenario][a].runs.map((x, i) => x / s[scenario][b].runs[i]));
  const get = (scenario, target) => s[scenario]?.[target]?.rps;
  const GET = 'small GET (1 KiB), 64 connections';
  const PUT = '4 KiB PUT admitted, 64 connections';
  const REFUSED = '4 KiB PUT refused (507), 64 connections';
  const smallGet = paired(GET, 'headroom', 'bare http-proxy');
  const putAdmitted = paired(PUT, 'headroom', 'bare http-proxy');
  const refused = s[REFUSED].headroom;
  const refusedRatio = ratio(refused.rps, get(PUT, 'headroom'));
  const ins = r.instructions;
  // The throughput `proxy` would have against `baseline` if instructions were all that counted.
  const byInstructions = (scenario, proxy, baseline) => `${fmt((ins[scenario][baseline] / ins[scenario][proxy]) * 100, 1)}%`;
  const stream = s['2 GiB streamed PUT'];
  const streamRatio = median(stream.headroom.runs.map((x, i) => x / stream.nginx.runs[i]));
  const variation = (figures) => Math.max(...figures) / Math.min(...figures) - 1;
  const flat = variation(Object.values(r.decision).map((d) => d.us));
  const flatByRoutes = variation(Object.values(r.decisionByRoutes).map((d) => d.us));
  const matchFlat = variation(Object.values(r.routeMatch).map((d) => d.us));
  // /status lists every volume: what must be flat is its cost per volume listed (from 100 volumes: with one, the
  // answer's own head is most of it) and how long a chunk of it holds the event loop (p99: a chunk, not the answer).
  const statusSizes = Object.entries(r.status);
  const statusFlat = variation(statusSizes.filter(([n]) => Number(n) >= 100).map(([, d]) => d.usPerVolume));
  const [manyVolumes, many] = statusSizes[statusSizes.length - 1];
  const tracingCost = 1 - paired(GET, 'headroom + tracing', 'headroom');
  const target = (ok, text) => `| ${ok ? 'met' : '**not met**'} | ${text} |`;
  lines.push('');
  lines.push('| target | figure |');
  lines.push('|---|---|');
  lines.push(target(smallGet >= 0.95, `small GET: Headroom at ${fmt(smallGet * 100, 1)}% of bare http-proxy's requests/s (≥ 95%); by instructions per request, ${byInstructions('small GET (1 KiB)', 'headroom', 'bare http-proxy')}`));
  lines.push(target(putAdmitted >= 0.95, `4 KiB PUT admitted: Headroom at ${fmt(putAdmitted * 100, 1)}% of bare http-proxy's requests/s (≥ 95%); by instructions per request, ${byInstructions('4 KiB PUT admitted', 'headroom', 'bare http-proxy')}`));
  lines.push(target(refusedRatio >= 2, `4 KiB PUT refused at ${fmt(refusedRatio, 2)}× the admitted rate (≥ 2×); by instructions per request, ${fmt(ins['4 KiB PUT admitted'].headroom / ins['4 KiB PUT refused (507)'].headroom, 2)}×`));
  lines.push(target(refused.p99Ms < 2, `refusal p99 ${fmt(refused.p99Ms, 2)} ms at 64 connections (< 2 ms)`));
  lines.push(target(streamRatio >= 0.9, `2 GiB PUT at ${fmt(streamRatio * 100, 1)}% of nginx's MB/s (≥ 90%); per byte, Headroom executes ${fmt((r.streamInstructions.headroom / r.streamInstructions['bare http-proxy']) * 100, 1)}% of the bare http-proxy's instructions`));
  lines.push(target(stream.headroom.peakRssMiB < 100, `2 GiB PUT: Headroom's peak RSS ${fmt(stream.headroom.peakRssMiB)} MiB (< 100 MiB)`));
  lines.push(target(flat <= 0.2, `decision cost from 1 to 10,000 volumes varies by ${fmt(flat * 100, 1)}% (± 20%)`));
  lines.push(target(flatByRoutes <= 0.2, `decision cost from 1 to 10,000 routes varies by ${fmt(flatByRoutes * 100, 1)}% (± 20%)`));
  lines.push(target(matchFlat <= 0.2, `route match from 1 to 10,000 routes varies by ${fmt(matchFlat * 100, 1)}% (± 20%): ${Object.entries(r.routeMatch).map(([n, m]) => `${fmt(m.us * 1000)} ns at ${n}`).join(', ')}`));
  lines.push(target(statusFlat <= 0.2 && many.holdMs <= 5, `/status: cost per volume listed from 100 to ${manyVolumes} volumes varies by ${fmt(statusFlat * 100, 1)}% (± 20%; ${statusSizes.map(([n, d]) => `${fmt(d.usPerVolume, 1)} µs at ${n}`).join(', ')}); while it is written the event loop is held ${fmt(many.holdMs, 2)} ms at a time at ${manyVolumes} volumes (p99 of its 16 KiB chunks, ≤ 5 ms; the whole answer is ${fmt(many.ms)} ms)`));
  const sampledCost = 1 - paired(GET, 'headroom + tracing, 10% sampled', 'headroom');
  lines.push(target(tracingCost <= 0.15, `tracing on costs ${fmt(tracingCost * 100, 1)}% of small-GET requests/s (≤ 15%); by instructions per request, ${fmt((1 - ins['small GET (1 KiB)'].headroom / ins['small GET (1 KiB)']['headroom + tracing']) * 100, 1)}%; with 10% of traces sampled (OTEL_TRACES_SAMPLER), ${fmt(sampledCost * 100, 1)}%`));
  const d = r.decide.scenarios;
  const decidedRatio = (scenario, a, b) => median(d[scenario][a].runs.map((x, i) => x / d[scenario][b].runs[i]));
  const decidedGet = decidedRatio('small GET (1 KiB), 64 connections', 'nginx + decision endpoint', 'nginx');
  const decidedPut = decidedRatio('4 KiB PUT admitted, 64 connections', 'nginx + decision endpoint', 'headroom as the proxy');
  lines.push(target(decidedGet >= 0.95, `small GET through nginx with the decision endpoint at ${fmt(decidedGet * 100, 1)}% of nginx alone (≥ 95%: reads are not asked)`));
  lines.push(target(decidedPut >= 2, `4 KiB PUT through nginx with the decision endpoint at ${fmt(decidedPut, 2)}× Headroom-as-proxy's rate (≥ 2×)`));
  const listing = propfindTarget(r.propfind, fmt);
  lines.push(target(listing.ok, listing.text));
  return lines.join('\n');
}
