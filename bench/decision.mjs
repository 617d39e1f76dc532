// µs per admission decision — route lookup, volume lookup, decide(), reserve and release —
// with 1, 100 and 10,000 volumes and 1,000 routes. It must not grow with the number of origins.
import { loadGatewayConfig } from '../dist/src/config/load.js';
import { decide } from '../dist/src/decision/decision.js';
import { viewOf } from '../dist/src/admission/judge.js';
import { declaredSize, inodesOf } from '../dist/src/decision/write-facts.js';
import { HeadroomRegistry } from '../dist/src/headroom/registry.js';
import { MemoryLedger } from '../dist/src/ledger/memory-ledger.js';
import { RouteTable } from '../dist/src/gateway/route-table.js';
import { createOrigin } from '../dist/src/exchange/origin.js';

const GiB = 1024 ** 3;

function setup(volumes) {
  const origins = Array.from({ length: volumes }, (_, i) => ({ name: `o${i}`, url: `http://10.0.${i >> 8}.${i & 255}:8000` }));
  const routes = Array.from({ length: 1000 }, (_, i) => ({ match: { pathPrefix: `/r${i}/` }, origin: `o${i % volumes}`, volume: '/srv/data' }));
  const loaded = loadGatewayConfig({ file: null, env: {}, values: { origins, routes } });
  if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
  const { config } = loaded;
  const originMap = new Map(config.origins.map((o) => [o.name, createOrigin(o)]));
  const table = new RouteTable(config.routes, originMap);
  const registry = new HeadroomRegistry(config.policy);
  const now = Date.now();
  for (const o of config.origins) {
    const state0 = registry.volume(o.name, '/srv/data').writtenMark();
    registry.volume(o.name, '/srv/data').record({ totalBytes: 100 * GiB, availableBytes: 50 * GiB, totalInodes: 1e6, freeInodes: 5e5, takenAt: now, source: 'agent' }, state0);
  }
  for (const origin of originMap.values()) origin.agent.destroy();
  return { config, table, registry, ledger: new MemoryLedger() };
}

/** µs per decision against a prepared setup. */
function timeDecisions({ config, table, registry, ledger }, iterations = 200_000) {
  const headers = { host: 'files.example', 'content-length': '4096' };
  const paths = ['/r0/a', '/r499/a', '/r999/a'];
  const once = (i) => {
    const route = table.match(headers.host, paths[i % 3]);
    const state = registry.volume(route.origin.name, route.volume);
    const view = viewOf(state, ledger);
    const facts = { declaredBytes: declaredSize(headers).bytes, inodes: inodesOf('PUT') };
    const decision = decide(facts, view, config.policy, Date.now());
    const f = decision.figures;
    const answer = ledger.reserve({ volumeKey: state.key, bytes: decision.reserveBytes, inodes: facts.inodes, roomBytes: f.usableBytes + f.reservedBytes, roomInodes: f.freeInodes + view.reservedInodes - config.policy.minFreeInodes });
    answer.reservation.release();
  };
  for (let i = 0; i < 20_000; i++) once(i); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) once(i);
  return Number(process.hrtime.bigint() - start) / 1000 / iterations;
}

/**
 * `rounds` rounds, each timing 1, 100 and 10,000 volumes in turn, so that
 * the machine's drift and the process's GC fall on every size alike.
 * Returns the µs per decision of each round, by number of volumes.
 */
export function measureDecisions(rounds, sizes = [1, 100, 10_000]) {
  const setups = new Map(sizes.map((n) => [n, setup(n)]));
  const runs = Object.fromEntries(sizes.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) for (const n of sizes) runs[n].push(timeDecisions(setups.get(n)));
  return runs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rounds = Number(process.argv[2] ?? 3);
  console.log(JSON.stringify(measureDecisions(rounds)));
}
