// The cost of configuration size: µs per admission decision (route lookup,
// volume lookup, decide(), reserve and release) by number of volumes and of
// routes, µs per route match by number of routes, and what a /status answer
// costs by number of volumes. None of these may grow with the configuration,
// except /status's per-answer cost, which lists every volume: per volume it
// must not grow, and how long the event loop is held at a time while it is
// written (a chunk) must not grow either.
import { loadGatewayConfig } from '../dist/src/config/load.js';
import { decide } from '../dist/src/decision/decision.js';
import { viewOf } from '../dist/src/admission/judge.js';
import { declaredSize, inodesOf } from '../dist/src/decision/write-facts.js';
import { HeadroomRegistry } from '../dist/src/headroom/registry.js';
import { GrowthHistory, DEFAULT_GROWTH_LIMITS } from '../dist/src/headroom/growth.js';
import { MemoryLedger } from '../dist/src/ledger/memory-ledger.js';
import { RouteTable } from '../dist/src/gateway/route-table.js';
import { createOrigin } from '../dist/src/exchange/origin.js';
import { readiness, statusText, statusWalk } from '../dist/src/admin/status.js';
import { statusPageText } from '../dist/src/admin/status-page.js';
import { CHUNK_CHARS, chunksOf } from '../dist/src/admin/admin-server.js';

const GiB = 1024 ** 3;

/** `volumes` origins of one volume each, `routes` routes spread over them. */
function setup(volumes, routes = 1000, { history = 1 } = {}) {
  const origins = Array.from({ length: volumes }, (_, i) => ({ name: `o${i}`, url: `http://10.0.${i >> 8}.${i & 255}:8000` }));
  const routeList = Array.from({ length: routes }, (_, i) => ({ match: { pathPrefix: `/r${String(i).padStart(5, "0")}/` }, origin: `o${i % volumes}`, volume: '/srv/data' }));
  const loaded = loadGatewayConfig({ file: null, env: {}, values: { origins, routes: routeList } });
  if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
  const { config } = loaded;
  const originMap = new Map(config.origins.map((o) => [o.name, createOrigin(o)]));
  const table = new RouteTable(config.routes, originMap);
  const registry = new HeadroomRegistry(config.policy, { growth: new GrowthHistory() });
  // `history` snapshots a minute apart, the newest now: a full growth history at 32.
  const now = Date.now();
  for (const o of config.origins) {
    const state = registry.volume(o.name, '/srv/data');
    for (let k = history - 1; k >= 0; k--) {
      const mark = state.writtenMark(now - k * 50_000);
      state.record({ totalBytes: 100 * GiB, availableBytes: 50 * GiB - (history - k) * 1e6, totalInodes: 1e6, freeInodes: 5e5, takenAt: now - k * 50_000, source: 'agent' }, mark);
    }
  }
  for (const origin of originMap.values()) origin.agent.destroy();
  return { config, table, registry, ledger: new MemoryLedger(), origins: originMap, routes };
}

/**
 * Paths spread evenly over the routes (first, last and between), as a
 * request's target: with more than one volume, decisions move between up to
 * 16 of them; with one, every decision is on the same.
 */
function pathsOver(routes) {
  return Array.from({ length: 16 }, (_, k) => `/r${String(Math.round((k / 15) * (routes - 1))).padStart(5, "0")}/photos/2024/img.jpg`);
}

/** µs per call of `once(i)`, after a warm-up. */
function timed(once, iterations) {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) once(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) once(i);
  return Number(process.hrtime.bigint() - start) / 1000 / iterations;
}

/** µs per decision against a prepared setup. */
function timeDecisions({ config, table, registry, ledger, routes }, iterations = 200_000) {
  const headers = { host: 'files.example', 'content-length': '4096' };
  const paths = pathsOver(routes);
  return timed((i) => {
    const route = table.match(headers.host, paths[i & 15]);
    const state = registry.volume(route.origin.name, route.volume);
    const view = viewOf(state, ledger);
    const facts = { declaredBytes: declaredSize(headers).bytes, inodes: inodesOf('PUT') };
    const decision = decide(facts, view, config.policy, Date.now());
    const f = decision.figures;
    const answer = ledger.reserve({ volumeKey: state.key, bytes: decision.reserveBytes, inodes: facts.inodes, roomBytes: f.usableBytes + f.reservedBytes, roomInodes: f.freeInodes + view.reservedInodes - config.policy.minFreeInodes });
    answer.reservation.release();
  }, iterations);
}

/** µs per route match alone. */
function timeMatches({ table, routes }, iterations = 1_000_000) {
  const paths = pathsOver(routes);
  let found = 0;
  const us = timed((i) => {
    if (table.match('files.example', paths[i & 15]) !== null) found++;
  }, iterations);
  if (found === 0) throw new Error('no route matched');
  return us;
}

/**
 * One answer as the admin listener makes it, a chunk at a time: each
 * chunk is what the event loop is held for. Adds each chunk's ms to `holds`.
 */
function answerOf(pieces, holds) {
  let bytes = 0;
  let from = process.hrtime.bigint();
  for (const chunk of chunksOf(pieces, CHUNK_CHARS)) {
    bytes += Buffer.byteLength(chunk);
    const at = process.hrtime.bigint();
    holds.push(Number(at - from) / 1e6);
    from = at;
  }
  return bytes;
}

/** ms per answer of `pieces()`, and the 99th percentile and longest of its chunks' ms. */
function timeAnswers(pieces, answers) {
  for (let i = 0; i < Math.min(answers, 50); i++) answerOf(pieces(), []);
  let bytes = 0;
  const holds = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < answers; i++) bytes = answerOf(pieces(), holds);
  holds.sort((a, b) => a - b);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6 / answers, holdMs: holds[Math.floor(0.99 * (holds.length - 1))], holdMaxMs: holds[holds.length - 1], bytes };
}

/**
 * /status, the status page and /readyz: ms per answer, µs per volume
 * listed, and how long a chunk of an answer holds the event loop.
 */
function timeStatus({ config, registry, ledger, origins }) {
  const volumes = [...registry.all()].length;
  const walk = () => statusWalk(1, origins, registry, ledger, config.policy);
  // Enough answers for a few hundred ms at any size.
  const answers = Math.max(5, Math.ceil(200_000 / volumes));
  const json = timeAnswers(() => statusText(walk()), answers);
  const page = timeAnswers(() => statusPageText(walk()), Math.ceil(answers / 2));
  const probes = Math.max(5, Math.ceil(1_000_000 / volumes));
  const readyStart = process.hrtime.bigint();
  for (let i = 0; i < probes; i++) readiness(origins, registry, ledger, config.policy);
  const readyzMs = Number(process.hrtime.bigint() - readyStart) / 1e6 / probes;
  return { ms: json.ms, usPerVolume: (json.ms * 1000) / volumes, holdMs: json.holdMs, holdMaxMs: json.holdMaxMs, pageMs: page.ms, pageHoldMs: page.holdMs, readyzMs, bytes: json.bytes };
}

/**
 * `rounds` rounds, each timing every size in turn, so that the machine's
 * drift and the process's GC fall on every size alike. Each figure is the
 * list of its rounds' results.
 */
export function measureScale(rounds) {
  const byVolumes = [1, 100, 10_000];
  const byRoutes = [1, 100, 1000, 10_000];
  const decisionRoutes = [1, 10_000];
  const statusVolumes = [1, 100, 10_000];
  const ofVolumes = new Map(byVolumes.map((n) => [n, setup(n)]));
  // One volume: what changes is the number of routes alone.
  const ofRoutes = new Map(byRoutes.map((n) => [n, setup(1, n)]));
  const ofStatus = new Map(statusVolumes.map((n) => [n, setup(n, Math.max(n, 1), { history: DEFAULT_GROWTH_LIMITS.points })]));
  const out = {
    decision: Object.fromEntries(byVolumes.map((n) => [n, []])),
    decisionByRoutes: Object.fromEntries(decisionRoutes.map((n) => [n, []])),
    routeMatch: Object.fromEntries(byRoutes.map((n) => [n, []])),
    status: Object.fromEntries(statusVolumes.map((n) => [n, { ms: [], usPerVolume: [], holdMs: [], holdMaxMs: [], pageMs: [], pageHoldMs: [], readyzMs: [], bytes: 0 }])),
  };
  for (let r = 0; r < rounds; r++) {
    for (const n of byVolumes) out.decision[n].push(timeDecisions(ofVolumes.get(n)));
    for (const n of decisionRoutes) out.decisionByRoutes[n].push(timeDecisions(ofRoutes.get(n)));
    for (const n of byRoutes) out.routeMatch[n].push(timeMatches(ofRoutes.get(n)));
    for (const n of statusVolumes) {
      const s = timeStatus(ofStatus.get(n));
      for (const key of ['ms', 'usPerVolume', 'holdMs', 'holdMaxMs', 'pageMs', 'pageHoldMs', 'readyzMs']) out.status[n][key].push(s[key]);
      out.status[n].bytes = s.bytes;
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rounds = Number(process.argv[2] ?? 3);
  console.log(JSON.stringify(measureScale(rounds)));
}
