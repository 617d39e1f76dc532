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
import { measureDecision } from './decision.mjs';

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
const ports = Object.fromEntries(await Promise.all(['origin', 'nginx', 'sink', 'bare', 'bareSink', 'headroom', 'traced', 'otlp'].map(async (k) => [k, await freePort()])));
const nginx = await startNginx(dir, { originPort: ports.origin, proxyPort: ports.nginx, sinkPort: ports.sink });
const sink = start(process.execPath, [path.join(here, 'sink-origin.mjs'), String(ports.sink)]);
const bare = start(process.execPath, [path.join(here, 'bare-proxy.mjs'), String(ports.bare), `http://127.0.0.1:${ports.origin}`]);
const bareSink = start(process.execPath, [path.join(here, 'bare-proxy.mjs'), String(ports.bareSink), `http://127.0.0.1:${ports.sink}`]);
const otlp = http.createServer((req, res) => req.resume().on('end', () => res.end('{}'))).listen(ports.otlp, '127.0.0.1');

const roomy = path.join(dir, 'roomy');
const tiny = path.join(dir, 'tiny');
mkdirSync(roomy);
mkdirSync(tiny);
writeFileSync(path.join(tiny, 'stored'), Buffer.alloc(6 * 1024));

function headroom(port, traces) {
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
  return start(process.execPath, [path.join(root, 'dist/src/cli.js'), 'proxy', '--config', file]);
}
const guard = headroom(ports.headroom, false);
const traced = headroom(ports.traced, true);
await Promise.all([
  waitForPort(ports.sink, 'the sink origin'),
  waitForPort(ports.bare, 'the bare proxy'),
  waitForPort(ports.bareSink, 'the bare proxy (sink)'),
  waitForPort(ports.headroom, 'Headroom'),
  waitForPort(ports.traced, 'Headroom (tracing on)'),
]);
await new Promise((r) => setTimeout(r, 1500)); // first snapshots

const targets = {
  direct: `http://127.0.0.1:${ports.origin}`,
  'bare http-proxy': `http://127.0.0.1:${ports.bare}`,
  nginx: `http://127.0.0.1:${ports.nginx}`,
  headroom: `http://127.0.0.1:${ports.headroom}`,
  'headroom + tracing': `http://127.0.0.1:${ports.traced}`,
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** A warm-up, then RUNS measured runs: the median, bracketed by the lowest and highest run. */
async function measure(url, options) {
  await wrk(url, { ...options, seconds: 2 });
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await wrk(url, { ...options, seconds: SECONDS }));
  const rps = runs.map((r) => r.rps);
  const p99 = runs.map((r) => r.p99Ms);
  return { rps: median(rps), rpsMin: Math.min(...rps), rpsMax: Math.max(...rps), p99Ms: median(p99), non2xx: runs.map((r) => r.non2xx), socketErrors: runs.map((r) => r.socketErrors) };
}

const results = { machine: machine(), seconds: SECONDS, runs: RUNS, scenarios: {} };
const put4k = putScript(dir, 'put4k', 4096);
const put4kExpect = putScript(dir, 'put4k-expect', 4096, { Expect: '100-continue' });

console.error(`measuring: ${RUNS} runs of ${SECONDS} s per figure, after a 2 s warm-up`);
for (const [name, options, pathName, only] of [
  ['small GET (1 KiB), 64 connections', {}, '/small', null],
  ['4 KiB PUT admitted, 64 connections', { script: put4k }, '/put/x', null],
  ['4 KiB PUT refused (507), 64 connections', { script: put4k }, '/full/x', ['headroom', 'headroom + tracing']],
  ['4 KiB PUT refused (507) with Expect, 64 connections', { script: put4kExpect }, '/full/x', ['headroom']],
]) {
  results.scenarios[name] = {};
  for (const [target, base] of Object.entries(targets)) {
    if (only && !only.includes(target)) continue;
    console.error(`  ${name} → ${target}`);
    results.scenarios[name][target] = await measure(base + pathName, options);
  }
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
  headroom: [`http://127.0.0.1:${ports.headroom}/sink/x`, guard.pid],
};
const rssOf = (pid) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const streaming = {};
for (const [target, [url, pid]] of Object.entries(streamTargets)) {
  console.error(`  2 GiB streamed PUT → ${target}`);
  const speeds = [];
  let peak = 0;
  for (let i = 0; i < RUNS; i++) {
    const sampler = pid ? setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50) : null;
    const { stdout } = await run('curl', ['-sS', '-H', 'Expect:', '-T', sparse, '-o', '/dev/null', '-w', '%{speed_upload} %{http_code}', url]);
    if (sampler) clearInterval(sampler);
    const [speed, code] = stdout.trim().split(' ');
    if (code !== '201') throw new Error(`2 GiB PUT to ${target} answered ${code}`);
    speeds.push(Number(speed) / 1e6);
  }
  streaming[target] = { mbps: median(speeds), mbpsMin: Math.min(...speeds), mbpsMax: Math.max(...speeds), peakRssMiB: pid ? peak : null };
}
results.scenarios['2 GiB streamed PUT'] = streaming;

// ---- the decision alone
console.error('  admission decision, 1,000 routes');
results.decision = Object.fromEntries([1, 100, 10_000].map((n) => {
  const runs = Array.from({ length: RUNS }, () => measureDecision(n));
  return [n, { us: median(runs), usMin: Math.min(...runs), usMax: Math.max(...runs) }];
}));

await Promise.all([guard, traced, bare, bareSink, sink, nginx].map(stop));
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

function report(r) {
  const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const cell = (m) => (m ? `${fmt(m.rps)} [${fmt(m.rpsMin)}–${fmt(m.rpsMax)}] · p99 ${fmt(m.p99Ms, 2)} ms` : '–');
  const lines = [];
  lines.push(`Machine: ${r.machine.cpu}, ${r.machine.memoryGiB} GiB, ${r.machine.kernel}; Node ${r.machine.node}; ${r.machine.nginx}; ${r.machine.wrk}.`);
  lines.push(`Each figure: the median of ${r.runs} runs of ${r.seconds} s after a 2 s warm-up, [lowest–highest run]. Load: wrk -t2. nginx: 1 worker, proxy_request_buffering off, keep-alive upstreams.`);
  lines.push('');
  const names = Object.keys(targets);
  lines.push(`| requests/s | ${names.join(' | ')} |`);
  lines.push(`|---|${names.map(() => '---').join('|')}|`);
  for (const [scenario, byTarget] of Object.entries(r.scenarios)) {
    if (scenario.startsWith('2 GiB')) continue;
    lines.push(`| ${scenario} | ${names.map((n) => cell(byTarget[n])).join(' | ')} |`);
  }
  lines.push('');
  lines.push('| 2 GiB streamed PUT (curl -T, origin discards) | MB/s [lowest–highest] | proxy peak RSS |');
  lines.push('|---|---|---|');
  for (const [target, m] of Object.entries(r.scenarios['2 GiB streamed PUT'])) {
    lines.push(`| ${target} | ${fmt(m.mbps)} [${fmt(m.mbpsMin)}–${fmt(m.mbpsMax)}] | ${m.peakRssMiB === null ? '–' : `${fmt(m.peakRssMiB)} MiB`} |`);
  }
  lines.push('');
  lines.push('| admission decision, 1,000 routes | µs per decision [lowest–highest] |');
  lines.push('|---|---|');
  for (const [n, m] of Object.entries(r.decision)) lines.push(`| ${n} volumes | ${fmt(m.us, 2)} [${fmt(m.usMin, 2)}–${fmt(m.usMax, 2)}] |`);

  const s = r.scenarios;
  const ratio = (a, b) => (a && b ? a / b : NaN);
  const get = (scenario, target) => s[scenario]?.[target]?.rps;
  const smallGet = ratio(get('small GET (1 KiB), 64 connections', 'headroom'), get('small GET (1 KiB), 64 connections', 'bare http-proxy'));
  const putAdmitted = ratio(get('4 KiB PUT admitted, 64 connections', 'headroom'), get('4 KiB PUT admitted, 64 connections', 'bare http-proxy'));
  const refused = s['4 KiB PUT refused (507), 64 connections'].headroom;
  const refusedRatio = ratio(refused.rps, get('4 KiB PUT admitted, 64 connections', 'headroom'));
  const stream = s['2 GiB streamed PUT'];
  const streamRatio = ratio(stream.headroom.mbps, stream.nginx.mbps);
  const decisions = Object.values(r.decision).map((d) => d.us);
  const flat = Math.max(...decisions) / Math.min(...decisions) - 1;
  const tracingCost = 1 - ratio(get('small GET (1 KiB), 64 connections', 'headroom + tracing'), get('small GET (1 KiB), 64 connections', 'headroom'));
  const target = (ok, text) => `| ${ok ? 'met' : '**not met**'} | ${text} |`;
  lines.push('');
  lines.push('| target | figure |');
  lines.push('|---|---|');
  lines.push(target(smallGet >= 0.95, `small GET: Headroom at ${fmt(smallGet * 100, 1)}% of bare http-proxy (≥ 95%)`));
  lines.push(target(putAdmitted >= 0.95, `4 KiB PUT admitted: Headroom at ${fmt(putAdmitted * 100, 1)}% of bare http-proxy (≥ 95%)`));
  lines.push(target(refusedRatio >= 2, `4 KiB PUT refused at ${fmt(refusedRatio, 2)}× the admitted rate (≥ 2×)`));
  lines.push(target(refused.p99Ms < 2, `refusal p99 ${fmt(refused.p99Ms, 2)} ms at 64 connections (< 2 ms)`));
  lines.push(target(streamRatio >= 0.9, `2 GiB PUT at ${fmt(streamRatio * 100, 1)}% of nginx's MB/s (≥ 90%)`));
  lines.push(target(stream.headroom.peakRssMiB < 100, `2 GiB PUT: Headroom's peak RSS ${fmt(stream.headroom.peakRssMiB)} MiB (< 100 MiB)`));
  lines.push(target(flat <= 0.2, `decision cost from 1 to 10,000 volumes varies by ${fmt(flat * 100, 1)}% (± 20%)`));
  lines.push(target(tracingCost <= 0.15, `tracing on costs ${fmt(tracingCost * 100, 1)}% of small-GET requests/s (≤ 15%)`));
  return lines.join('\n');
}
