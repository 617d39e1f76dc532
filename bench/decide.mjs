// Part of `npm run bench` (also `node bench/decide.mjs [seconds]` on its own, after `npm run build`; BENCH_RUNS rounds, 3 by default):
// nginx alone against nginx asking Headroom's decision endpoint (the documented snippet,
// docs/decision-endpoint.md), and Headroom as the proxy, for a small GET and a 4 KiB PUT.
// Prints JSON on stdout.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ensureNginx, nginxPreamble, NGINX } from './lib/nginx.mjs';
import { freePort, start, stop, waitForPort } from './lib/processes.mjs';
import { ensureWrk, putScript, wrk } from './lib/wrk.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const SECONDS = Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 5);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

ensureNginx();
ensureWrk();
const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-decide-bench-'));
chmodSync(dir, 0o755); // nginx's worker (nobody) reads the origin's file
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const ports = Object.fromEntries(await Promise.all(['origin', 'nginx', 'asking', 'decide', 'syslog', 'headroom'].map(async (k) => [k, await freePort()])));

/** The documented nginx snippet, pointed at this bench's ports. */
function documentedSnippet() {
  const doc = readFileSync(path.join(root, 'docs/decision-endpoint.md'), 'utf8');
  let snippet = /```nginx\n([\s\S]*?)```/.exec(doc)[1];
  for (const [from, to] of [
    ['server 127.0.0.1:9191;', `server 127.0.0.1:${ports.decide};`],
    ['server 127.0.0.1:8000;', `server 127.0.0.1:${ports.origin};`],
    ['listen 8080;', `listen 127.0.0.1:${ports.asking};`],
    ['syslog:server=127.0.0.1:9192,', `syslog:server=127.0.0.1:${ports.syslog},`],
  ]) {
    if (!snippet.includes(from)) throw new Error(`the documented snippet no longer contains "${from}"`);
    snippet = snippet.replace(from, to);
  }
  return snippet.replace('keepalive 16;', 'keepalive 64;').replace('keepalive 16;', 'keepalive 64;');
}

// One nginx (one worker): the origin, nginx alone as the proxy, and nginx asking Headroom.
const www = path.join(dir, 'www');
mkdirSync(www);
writeFileSync(path.join(www, 'small'), Buffer.alloc(1024, 'x'));
const conf = path.join(dir, 'nginx.conf');
writeFileSync(conf, `
${nginxPreamble(dir)}
  server {
    listen 127.0.0.1:${ports.origin};
    root ${www};
    location /small { }
    location /put/ { client_max_body_size 0; return 201; }
  }
  server {
    listen 127.0.0.1:${ports.nginx};
    client_max_body_size 0;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_request_buffering off;
    location / { proxy_pass http://storage; }
  }
${documentedSnippet()}
}
`);
const nginx = start(NGINX, ['-c', conf, '-p', dir]);

const roomy = path.join(dir, 'roomy');
mkdirSync(roomy);
const config = path.join(dir, 'headroom.yaml');
writeFileSync(config, YAML.stringify({
  listen: { host: '127.0.0.1', port: ports.headroom },
  admin: { host: '127.0.0.1', port: 0 },
  origins: [{ name: 'origin', url: `http://127.0.0.1:${ports.origin}`, headroom: { local: { paths: [roomy] } } }],
  routes: [{ match: { pathPrefix: '/' }, origin: 'origin' }],
  telemetry: { traces: { exporter: 'none' } },
  plugins: [{ name: 'decide', options: { listen: { host: '127.0.0.1', port: ports.decide }, syslog: { port: ports.syslog } } }],
}));
const headroom = start(process.execPath, [path.join(root, 'dist/src/cli.js'), 'proxy', '--config', config]);
await Promise.all([
  waitForPort(ports.origin, 'nginx (origin)'),
  waitForPort(ports.nginx, 'nginx (alone)'),
  waitForPort(ports.asking, 'nginx (asking Headroom)'),
  waitForPort(ports.headroom, 'Headroom'),
  waitForPort(ports.decide, 'the decision endpoint'),
]);
await new Promise((r) => setTimeout(r, 1500)); // a first snapshot

const targets = {
  nginx: `http://127.0.0.1:${ports.nginx}`,
  'nginx + decision endpoint': `http://127.0.0.1:${ports.asking}`,
  'headroom as the proxy': `http://127.0.0.1:${ports.headroom}`,
};
// Each target answers both requests as it should before it is measured.
for (const [name, base] of Object.entries(targets)) {
  for (const [method, urlPath] of [['GET', '/small'], ['PUT', '/put/x']]) {
    const res = await fetch(base + urlPath, { method, body: method === 'PUT' ? 'x'.repeat(4096) : undefined });
    if (!res.ok) throw new Error(`${name}: ${method} ${urlPath} answered ${res.status}: ${await res.text()}`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const put4k = putScript(dir, 'put4k', 4096);

/** Warm-up, then RUNS rounds with every target in turn (see run.mjs). */
async function measureInTurn(urls, options) {
  for (const url of Object.values(urls)) await wrk(url, { ...options, seconds: 2 });
  const runs = Object.fromEntries(Object.keys(urls).map((name) => [name, []]));
  for (let i = 0; i < RUNS; i++) for (const [name, url] of Object.entries(urls)) runs[name].push(await wrk(url, { ...options, seconds: SECONDS }));
  return Object.fromEntries(Object.entries(runs).map(([name, r]) => {
    const rps = r.map((x) => x.rps);
    return [name, { rps: median(rps), rpsMin: Math.min(...rps), rpsMax: Math.max(...rps), p99Ms: median(r.map((x) => x.p99Ms)), runs: rps, non2xx: r.map((x) => x.non2xx) }];
  }));
}

const results = {};
for (const [name, urlPath, options, only] of [
  ['small GET (1 KiB), 64 connections', '/small', {}, ['nginx', 'nginx + decision endpoint']],
  ['4 KiB PUT admitted, 64 connections', '/put/x', { script: put4k }, Object.keys(targets)],
]) {
  console.error(`  decision endpoint: ${name}`);
  results[name] = await measureInTurn(Object.fromEntries(only.map((t) => [t, targets[t] + urlPath])), options);
}
for (const scenario of Object.values(results)) {
  for (const [target, m] of Object.entries(scenario)) if (m.non2xx.some((n) => n > 0)) throw new Error(`${target} answered non-2xx: ${m.non2xx}`);
}
await Promise.all([headroom, nginx].map(stop));
console.log(JSON.stringify({ seconds: SECONDS, runs: RUNS, scenarios: results }));
