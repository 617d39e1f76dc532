// A long mixed load on a real gateway, watched for drift: `npm run soak -- --minutes 30`.
import { runCleanup, onCleanup } from './lib/cleanup.mjs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startApache } from './lib/apache.mjs';
import { driftVerdict, DRIFT_SHARE, DRIFT_T } from './lib/drift.mjs';
import { cpuSeconds, openFiles, rssBytes } from './lib/proc-stats.mjs';
import { freePort, waitForPort } from './lib/processes.mjs';
import { exchange, startFlakyOrigin } from './lib/soak-load.mjs';
import { mountTmpfs } from './lib/tmpfs.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(root, 'dist/src/cli.js');
const MiB = 1024 * 1024;
const WWW_DATA = 33;
const TOKEN = 'soak';

function options() {
  const args = process.argv.slice(2);
  const value = (name) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (args.includes('--help')) {
    console.log('npm run soak -- [--minutes N] [--out FILE]   (env SOAK_MINUTES); see bench/SOAK.md');
    process.exit(0);
  }
  const minutes = Number(value('minutes') ?? process.env.SOAK_MINUTES ?? 30);
  if (!Number.isInteger(minutes) || minutes < 1) throw new Error(`--minutes: expected a whole number of minutes ≥ 1, got ${value('minutes') ?? process.env.SOAK_MINUTES}`);
  return { minutes, out: value('out') ?? path.join(os.tmpdir(), 'headroom-soak-result.md') };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const between = (lo, hi) => Math.floor(lo + Math.random() * (hi - lo));

async function until(check, what, timeoutMs, everyMs = 50) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

function get(port, target, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: target, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${target}: no answer in 10 s`)));
  });
}

function post(port, target, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Prometheus text → Map of "name{labels}" → value, and sums by metric name. */
function parseMetrics(text) {
  const sums = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    sums.set(m[1], (sums.get(m[1]) ?? 0) + Number(m[3]));
  }
  return sums;
}

// ---------------------------------------------------------------- setup

const opts = options();
const startedAt = new Date();
const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-soak-'));
chmodSync(dir, 0o755);
onCleanup(() => rmSync(dir, { recursive: true, force: true }));
const www = path.join(dir, 'www');
mkdirSync(www, { mode: 0o755 });
// The main volume: room for a few large uploads at a time, so some are refused when they pile up.
const volA = mountTmpfs(path.join(www, 'dav'), 'size=192m,uid=33,gid=33,mode=0755');
// A volume kept nearly full: every upload of a few MiB to it is refused.
const volB = mountTmpfs(path.join(www, 'full'), 'size=16m,uid=33,gid=33,mode=0755');
writeFileSync(path.join(volB, 'filler'), Buffer.alloc(14 * MiB));
const staticDir = path.join(www, 'static');
mkdirSync(staticDir, { mode: 0o755 });
writeFileSync(path.join(staticDir, 'small.txt'), Buffer.alloc(1024, 0x62));
chownSync(staticDir, WWW_DATA, WWW_DATA);

const apache = await startApache(path.join(dir, 'apache'), www);
const flaky = await startFlakyOrigin(0.4);
onCleanup(() => flaky.close());

const gatewayLogPath = path.join(os.tmpdir(), 'headroom-soak-gateway.log');
const agentLogPath = path.join(os.tmpdir(), 'headroom-soak-agent.log');
const agentPort = await freePort();
const agentConfig = path.join(dir, 'agent.yaml');
writeFileSync(agentConfig, JSON.stringify({ listen: { host: '127.0.0.1', port: agentPort }, paths: [volA, volB], log: { level: 'warn' } }));

let agent = null;
const agentLog = openSync(agentLogPath, 'w');
onCleanup(() => agent?.exitCode === null && agent.kill('SIGKILL'));
async function startAgent() {
  agent = spawn(process.execPath, [CLI, 'agent', '--config', agentConfig], { stdio: ['ignore', agentLog, agentLog] });
  await waitForPort(agentPort, 'headroom agent');
}

const gatewayPort = await freePort();
const adminPort = await freePort();
const gatewayConfig = path.join(dir, 'gateway.yaml');
const RESERVES = ['5%', '4%', '6%'];
/** The gateway's config at reload `round`: each round changes the reserve, the Via pseudonym and one origin's timeout. */
function writeGatewayConfig(round) {
  const agentSource = { url: `http://127.0.0.1:${agentPort}`, interval: '1s', timeout: '1s' };
  const config = {
    listen: { host: '127.0.0.1', port: gatewayPort },
    admin: { host: '127.0.0.1', port: adminPort, token: TOKEN },
    via: { pseudonym: `soak-${round}` },
    origins: [
      { name: 'dav', url: apache.url, headroom: { agent: agentSource } },
      { name: 'flaky', url: `http://127.0.0.1:${flaky.port}`, timeout: `${30 + (round % 2)}s`, headroom: { agent: agentSource } },
    ],
    routes: [
      { match: { pathPrefix: '/dav/' }, origin: 'dav', volume: volA },
      { match: { pathPrefix: '/full/' }, origin: 'dav', volume: volB },
      { match: { pathPrefix: '/static/' }, origin: 'dav', volume: volA },
      { match: { pathPrefix: '/flaky/' }, origin: 'flaky', volume: volA },
    ],
    policy: { reserve: RESERVES[round % RESERVES.length], staleAfter: '10s', onUnknown: 'admit' },
    log: { level: 'info' },
  };
  writeFileSync(gatewayConfig, JSON.stringify(config, null, 2));
}

writeGatewayConfig(0);
await startAgent();
const gatewayLog = openSync(gatewayLogPath, 'w');
const gateway = spawn(process.execPath, [CLI, 'proxy', '--config', gatewayConfig], { stdio: ['ignore', gatewayLog, gatewayLog] });
onCleanup(() => gateway.exitCode === null && gateway.kill('SIGKILL'));
let gatewayExit = null;
gateway.on('exit', (code, signal) => (gatewayExit = { code, signal, at: Date.now() }));
const auth = { authorization: `Bearer ${TOKEN}` };
await until(async () => (await get(adminPort, '/readyz').catch(() => ({ status: 0 }))).status === 200, 'the gateway to be ready', 20_000, 100);

// ---------------------------------------------------------------- load

const clientAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
/** Statuses (or `aborted`) each operation may get; anything else is a finding. */
const EXPECTED = {
  'GET small': [200],
  'GET missing': [404],
  'PUT 4 KiB': [201, 204, 507],
  'PUT 1–64 MiB': [201, 204, 507],
  'PUT to the full volume': [507],
  'PUT larger than the volume': [413],
  'PUT aborted by the client': ['aborted', 507],
  'PUT via a resetting origin': [201, 502, 507],
  'GET via a resetting origin': [200, 502],
  DELETE: [204],
};
const outcomes = new Map(); // op → Map(outcome → count)
const unexpected = new Map(); // "op → outcome" → count
const minute = { requests: 0, bytes: 0, refused: 0, badGateway: 0, unexpected: 0 };
let paused = false;
let stopping = false;
let resume = null;
let resumed = Promise.resolve();
let inFlight = 0;
const uploaded = [];
let serial = 0;

function record(op, result, mode) {
  const outcome = result.aborted ? 'aborted' : result.error !== undefined ? `error ${result.error}` : result.status;
  const key = mode ? `${op} (${mode})` : op;
  // A reset on a kept-alive connection belongs to what that connection carried before: say what it was.
  let after = '';
  if (result.error !== undefined && result.reused && result.previous) {
    const p = result.previous;
    after = `, on a connection reused after ${p.method} /${p.path.split('/')[1]}/${p.mode ? ` (${p.mode})` : ''} answered ${p.status ?? 'nothing'}${p.connection ? ` with Connection: ${p.connection}` : ''}`;
  }
  if (!outcomes.has(op)) outcomes.set(op, new Map());
  const byOutcome = outcomes.get(op);
  byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
  minute.requests++;
  minute.bytes += result.sent ?? 0;
  if (outcome === 507) minute.refused++;
  if (outcome === 502) minute.badGateway++;
  if (!EXPECTED[op].includes(outcome)) {
    const finding = `${key} → ${outcome}${after}`;
    const seen = unexpected.get(finding) ?? 0;
    unexpected.set(finding, seen + 1);
    minute.unexpected++;
    if (seen < 5) console.log(`[${new Date().toISOString()}] unexpected: ${finding}${result.reused ? ' (on a reused connection)' : ' (on a new connection)'}, ${result.sent} B sent${result.previous ? `; before it on that connection: ${JSON.stringify(result.previous)}` : ''}`);
  }
}

async function put(op, target, size, mode, abortAfter = null) {
  const result = await exchange({ port: gatewayPort, method: 'PUT', path: target, body: { size, mode }, abortAfter, agent: clientAgent });
  record(op, result, mode);
  if ((result.status === 201 || result.status === 204) && target.startsWith('/dav/')) uploaded.push({ target, at: Date.now() });
  return result;
}

async function call(op, method, target) {
  record(op, await exchange({ port: gatewayPort, method, path: target, agent: clientAgent }));
}

const bodyMode = () => pick(['length', 'expect', 'chunked']);
const CHAOS = [
  () => put('PUT to the full volume', `/full/r-${++serial}`, between(2 * MiB, 8 * MiB), pick(['length', 'expect'])),
  () => put('PUT larger than the volume', `/dav/o-${++serial}`, 512 * MiB, pick(['length', 'expect'])),
  () => {
    const size = between(8 * MiB, 32 * MiB);
    return put('PUT aborted by the client', `/dav/a-${++serial}`, size, bodyMode(), Math.floor(size * (0.1 + Math.random() * 0.5)));
  },
  () => put('PUT via a resetting origin', `/flaky/f-${++serial}`, between(64 * 1024, 4 * MiB), pick(['length', 'chunked'])),
  () => call('GET via a resetting origin', 'GET', `/flaky/g-${++serial}`),
  () => call('GET missing', 'GET', `/dav/missing-${++serial}`),
];

async function deleteOld() {
  const cutoff = Date.now() - 8000;
  while (uploaded.length > 0 && uploaded[0].at < cutoff) await call('DELETE', 'DELETE', uploaded.shift().target);
}

/** Runs `op` again and again, `gapMs` apart, holding off while the load is paused. */
async function lane(gapMs, op) {
  while (!stopping) {
    if (paused) {
      await resumed;
      continue;
    }
    inFlight++;
    try {
      await op();
    } finally {
      inFlight--;
    }
    await sleep(gapMs);
  }
}

// ---------------------------------------------------------------- watching

const samples = [];
const events = { reloads: 0, reloadFailures: [], agentRestarts: 0, resetsCaused: 0 };

function classifySocket({ localPort, remotePort, state }) {
  if (state === '0A') return 'listening';
  if (localPort === gatewayPort) return 'client';
  if (localPort === adminPort) return 'admin';
  if (remotePort === apache.port) return 'apache';
  if (remotePort === flaky.port) return 'flaky';
  if (remotePort === agentPort) return 'agent';
  return 'other';
}

let lastCpu = null;
async function status() {
  return JSON.parse((await get(adminPort, '/status', auth)).text);
}

/** Pauses the load, waits for what is in flight, reads the gateway's figures, empties the volume, resumes. */
async function quietPoint(index) {
  const load = { ...minute };
  Object.assign(minute, { requests: 0, bytes: 0, refused: 0, badGateway: 0, unexpected: 0 });
  const t0 = Date.now();
  paused = true;
  resumed = new Promise((r) => (resume = r));
  await until(() => inFlight === 0, 'the load to finish its requests', 180_000);
  const drainMs = Date.now() - t0;
  // The gateway may see a client's close a moment after the client made it: read until 0, or for 5 s.
  const t1 = Date.now();
  const firstReserved = (await status()).reservedBytes;
  let reserved = firstReserved;
  while (reserved !== 0 && Date.now() - t1 < 5000) {
    await sleep(100);
    reserved = (await status()).reservedBytes;
  }
  const settleMs = Date.now() - t1;
  const metrics = parseMetrics((await get(adminPort, '/metrics', auth)).text);
  const files = openFiles(gateway.pid, classifySocket);
  const cpu = cpuSeconds(gateway.pid);
  const cpuPerMinute = lastCpu === null ? null : ((cpu.total - lastCpu.total) / ((cpu.at - lastCpu.at) / 60_000));
  lastCpu = cpu;
  const sample = {
    minute: index,
    rssMiB: rssBytes(gateway.pid) / MiB,
    heapMiB: metrics.get('v8js_memory_heap_used') / MiB,
    eldP99ms: metrics.get('nodejs_eventloop_delay_p99') * 1000,
    reserved,
    firstReserved,
    settleMs,
    inFlightAtGateway: metrics.get('headroom_requests_in_flight'),
    fds: files.fds,
    sockets: files.sockets,
    socketGroups: files.groups,
    drainMs,
    cpuPerMinute,
    ...load,
  };
  samples.push(sample);
  const swept = readdirSync(volA);
  for (const entry of swept) rmSync(path.join(volA, entry), { recursive: true, force: true });
  uploaded.length = 0;
  const groups = Object.entries(files.groups).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(
    `[${new Date().toISOString()}] min ${String(index).padStart(2)}: RSS ${sample.rssMiB.toFixed(1)} MiB, heap ${sample.heapMiB.toFixed(1)} MiB, ELD p99 ${sample.eldP99ms.toFixed(1)} ms, ` +
      `reserved ${reserved} B (first read ${firstReserved}, ${settleMs} ms), fds ${files.fds}, sockets ${files.sockets} (${groups}), ` +
      `${load.requests} requests, ${(load.bytes / MiB).toFixed(0)} MiB sent, ${load.refused} × 507, ${load.badGateway} × 502, ${load.unexpected} unexpected, ` +
      `gateway CPU ${cpuPerMinute === null ? '–' : cpuPerMinute.toFixed(1)} s/min, drain ${drainMs} ms`,
  );
  paused = false;
  resume();
}

async function reload(round) {
  writeGatewayConfig(round);
  const before = (await status()).generation;
  try {
    if (round % 2 === 0) {
      const answer = await post(adminPort, '/reload', auth);
      if (answer.status !== 200) throw new Error(`POST /reload: ${answer.status} ${answer.text}`);
    } else {
      process.kill(gateway.pid, 'SIGHUP');
    }
    await until(async () => (await status()).generation === before + 1, `generation ${before + 1}`, 10_000, 100);
    events.reloads++;
  } catch (error) {
    events.reloadFailures.push(`round ${round}: ${error.message}`);
    console.log(`reload ${round} failed: ${error.message}`);
  }
}

async function restartAgent(round) {
  agent.kill(round % 2 === 0 ? 'SIGKILL' : 'SIGTERM');
  await once(agent, 'exit');
  await sleep(3000);
  await startAgent();
  events.agentRestarts++;
}

// ---------------------------------------------------------------- run


console.log(`soak: ${opts.minutes} min against gateway pid ${gateway.pid} (port ${gatewayPort}, admin ${adminPort}), apache ${apache.url}, agent :${agentPort}; log ${gatewayLogPath}`);
await quietPoint(0);
const lanes = [
  lane(25, () => call('GET small', 'GET', '/static/small.txt')),
  lane(60, () => put('PUT 4 KiB', `/dav/s-${++serial}`, 4096, pick(['length', 'length', 'length', 'expect', 'chunked']))),
  lane(1000, () => put('PUT 1–64 MiB', `/dav/b-${++serial}`, between(1 * MiB, 64 * MiB), bodyMode())),
  lane(4000, () => put('PUT 1–64 MiB', `/dav/b-${++serial}`, between(1 * MiB, 64 * MiB), bodyMode())),
  lane(1500, () => pick(CHAOS)()),
  lane(5000, deleteOld),
];
const t0 = Date.now();
const at = (ms) => sleep(Math.max(0, t0 + ms - Date.now()));
const background = [];
for (let m = 1; m <= opts.minutes && gatewayExit === null; m++) {
  const base = (m - 1) * 60_000;
  background.push(at(base + 30_000).then(() => !stopping && gatewayExit === null && reload(m)));
  if (m % 3 === 2) background.push(at(base + 40_000).then(() => !stopping && gatewayExit === null && restartAgent(m)));
  await at(base + 60_000);
  if (gatewayExit !== null) break;
  await quietPoint(m);
}
stopping = true;
resume?.();
await Promise.all(background);
await Promise.race([Promise.all(lanes), sleep(180_000)]);
events.resetsCaused = flaky.counts.resets;

let gatewayStop = 'crashed';
if (gatewayExit === null) {
  gateway.kill('SIGTERM');
  await Promise.race([once(gateway, 'exit'), sleep(40_000)]);
  gatewayStop = gatewayExit === null ? 'did not exit within 40 s of SIGTERM' : `exit code ${gatewayExit.code}${gatewayExit.signal ? `, signal ${gatewayExit.signal}` : ''}`;
} else {
  gatewayStop = `CRASHED during the run: code ${gatewayExit.code}, signal ${gatewayExit.signal}`;
}
closeSync(gatewayLog);

/** Lines of the gateway's log above info, by message; 5xx access lines by status and upstream failure. */
async function summariseLog() {
  const notes = new Map();
  const add = (k) => notes.set(k, (notes.get(k) ?? 0) + 1);
  const lines = readline.createInterface({ input: createReadStream(gatewayLogPath) });
  for await (const line of lines) {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      add(`not JSON: ${line.slice(0, 80)}`);
      continue;
    }
    if (entry.msg === 'access') {
      if (entry.status >= 500) add(`access ${entry.status}${entry.upstreamFailure ? ` (${entry.upstreamFailure})` : ''} origin ${entry.origin}`);
    } else if (entry.level !== 'info' && entry.level !== 30 && entry.level !== 'debug') add(`${entry.level}: ${entry.msg}`);
  }
  return notes;
}
const logNotes = await summariseLog();

// ---------------------------------------------------------------- report

const SERIES = [
  ['RSS (MiB)', 'rssMiB'],
  ['heap used (MiB)', 'heapMiB'],
  ['event-loop delay p99 (ms)', 'eldP99ms'],
  ['open file descriptors', 'fds'],
  ['open sockets', 'sockets'],
];
const loaded = samples.filter((s) => s.minute > 0);
const xs = loaded.map((s) => s.minute);
const verdicts = SERIES.map(([label, key]) => ({ label, ...driftVerdict(xs, loaded.map((s) => s[key])) }));
const nonZeroQuiet = samples.filter((s) => s.reserved !== 0);
const f = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : Number.isNaN(n) ? '–' : n > 0 ? '∞' : '−∞');

const cpu = os.cpus();
const md = [];
md.push(`## Soak run: ${opts.minutes} min, ${startedAt.toISOString()}`, '');
md.push(`- Machine: Node ${process.version}, ${cpu[0]?.model ?? 'unknown CPU'} × ${os.availableParallelism()} (nproc), ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${os.release()}`);
md.push(`- Command: \`npm run soak -- --minutes ${opts.minutes}\``);
md.push(`- Gateway: \`headroom proxy\` (dist/src/cli.js), access lines on, in front of Apache mod_dav on a 192 MiB tmpfs (/dav/), a 16 MiB tmpfs kept at 14 MiB (/full/), and a node origin resetting 40% of its exchanges (/flaky/); \`headroom agent\` feeding the gateway, polled every 1 s`);
md.push(`- Reloads: ${events.reloads} applied (every minute, POST /reload and SIGHUP in turn; reserve, Via pseudonym and an origin's timeout changed each time)${events.reloadFailures.length ? `, **${events.reloadFailures.length} failed**: ${events.reloadFailures.join('; ')}` : ', none failed'}; agent restarts: ${events.agentRestarts} (SIGKILL and SIGTERM in turn, down 3 s); origin resets caused: ${events.resetsCaused}`);
md.push(`- Gateway at the end: ${gatewayStop}`, '');
md.push('| min | RSS MiB | heap MiB | ELD p99 ms | reserved B (first read) | fds | sockets | client / apache / other | requests | MiB sent | 507 | 502 | unexpected | gateway CPU s/min |');
md.push('|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|');
for (const s of samples) {
  const g = s.socketGroups;
  const other = s.sockets - (g.client ?? 0) - (g.apache ?? 0);
  md.push(`| ${s.minute} | ${f(s.rssMiB)} | ${f(s.heapMiB)} | ${f(s.eldP99ms)} | ${s.reserved} (${s.firstReserved}) | ${s.fds} | ${s.sockets} | ${g.client ?? 0} / ${g.apache ?? 0} / ${other} | ${s.requests} | ${f(s.bytes / MiB, 0)} | ${s.refused} | ${s.badGateway} | ${s.unexpected} | ${s.cpuPerMinute === null ? '–' : f(s.cpuPerMinute)} |`);
}
md.push('', `Minute 0 is before any load. Each row is read at that minute's quiet point (load paused, every request finished); ELD p99 covers the minute since the previous reading.`, '');
md.push(`Drift, over the last two thirds of the loaded minutes (least-squares fit; **drifts** when the fitted change across that window is more than ${DRIFT_SHARE * 100}% of the window's mean *and* the slope is more than ${DRIFT_T} standard errors from 0):`, '');
md.push('| series | mean | slope / min | fitted change | change / mean | slope / SE | verdict |');
md.push('|---|---:|---:|---:|---:|---:|---|');
for (const v of verdicts) md.push(`| ${v.label} | ${f(v.mean, 2)} | ${f(v.slope, 3)} | ${f(v.change, 2)} | ${f(v.relative * 100, 1)}% | ${f(v.t, 1)} | ${v.verdict} |`);
md.push(`| reserved bytes at quiet points | | | | | | ${nonZeroQuiet.length === 0 ? `0 at all ${samples.length}` : `**not 0 at ${nonZeroQuiet.length}**: minutes ${nonZeroQuiet.map((s) => `${s.minute} (${s.reserved} B)`).join(', ')}`} |`);
md.push('', 'Outcomes by operation (status, `aborted` by the client as planned, or a client-side error):', '');
md.push('| operation | expected | outcomes |');
md.push('|---|---|---|');
for (const [op, byOutcome] of outcomes) md.push(`| ${op} | ${EXPECTED[op].join(', ')} | ${[...byOutcome].map(([k, v]) => `${k}: ${v}`).join(', ')} |`);
md.push('', unexpected.size === 0 ? 'Unexpected answers: none.' : 'Unexpected answers (each is a finding):', '');
for (const [k, v] of unexpected) md.push(`- ${k}: ${v}`);
md.push('', logNotes.size === 0 ? "Gateway log: no line above info, no 5xx access line." : "Gateway log, lines above info and 5xx access lines:", '');
for (const [k, v] of [...logNotes].sort((a, b) => b[1] - a[1])) md.push(`- ${k}: ${v}`);
const report = md.join('\n');
writeFileSync(opts.out, `${report}\n`);
console.log(`\n----- markdown for bench/SOAK.md (also in ${opts.out}) -----\n\n${report}\n`);

await apache.close();
await flaky.close();
clientAgent.destroy();
const failed = gatewayExit?.code !== 0 || nonZeroQuiet.length > 0 || unexpected.size > 0;
runCleanup();
process.exit(failed ? 1 : 0);
