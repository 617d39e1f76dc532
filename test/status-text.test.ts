import t, { type Test } from 'tap';
import { gatewayStatus, readiness, statusText, statusWalk } from '../src/admin/status.js';
import { statusPage, statusPageText } from '../src/admin/status-page.js';
import { CHUNK_CHARS, startAdmin } from '../src/admin/admin-server.js';
import { loadGatewayConfig } from '../src/config/load.js';
import { createOrigin, type Origin } from '../src/exchange/origin.js';
import { GrowthHistory } from '../src/headroom/growth.js';
import { HeadroomRegistry } from '../src/headroom/registry.js';
import { MemoryLedger } from '../src/ledger/memory-ledger.js';
import net from 'node:net';
import { request, until } from './helpers/http.js';

// /status with many volumes: its text is made a volume at a time and
// written a chunk at a time, so that answering it never holds the event
// loop for the whole document; what it says is what gatewayStatus says.

const GiB = 1024 ** 3;

/** `count` origins: the first with no volume, the others with `volumes` volumes each, a few snapshots apiece. */
function world(t: Test, count: number, volumes: number) {
  const origins = Array.from({ length: count }, (_, i) => ({ name: `o${i}`, url: `http://10.0.0.${i + 1}:8000`, headroom: { local: { paths: ['/tmp'] } } }));
  const loaded = loadGatewayConfig({ file: null, env: {}, values: { origins, routes: [{ origin: 'o0', volume: '/tmp' }] } });
  if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
  const { config } = loaded;
  const originMap = new Map<string, Origin>(config.origins.map((o) => [o.name, createOrigin(o)]));
  t.teardown(() => {
    for (const o of originMap.values()) o.agent.destroy();
  });
  const registry = new HeadroomRegistry(config.policy, { growth: new GrowthHistory() });
  const now = Date.now();
  for (let i = 1; i < count; i++) {
    for (let v = 0; v < volumes; v++) {
      const state = registry.volume(`o${i}`, `/v${v}`);
      for (let k = 4; k >= 0; k--) {
        const at = now - k * 60_000 - (v === 1 ? 10 * 60_000 : 0); // the second volume of each is stale
        state.record({ totalBytes: 10 * GiB, availableBytes: 5 * GiB - k * 1e6, totalInodes: 1e6, freeInodes: 5e5, takenAt: at, source: 'local' }, state.writtenMark(at));
      }
    }
  }
  return { config, origins: originMap, registry, ledger: new MemoryLedger() };
}

t.test('statusText joined is the JSON of gatewayStatus', async (t) => {
  const w = world(t, 4, 3);
  const now = Date.now();
  const realNow = Date.now;
  Date.now = () => now; // one moment for both, so that ages and freshness agree
  t.teardown(() => void (Date.now = realNow));
  const held = w.ledger.reserve({ volumeKey: w.registry.volumesOf('o2')[0]!.key, bytes: 4096, inodes: 1, roomBytes: Infinity, roomInodes: Infinity, since: null });
  t.ok(held.granted);
  const whole = JSON.stringify(gatewayStatus(7, w.origins, w.registry, w.ledger, w.config.policy, now));
  const pieces = [...statusText(statusWalk(7, w.origins, w.registry, w.ledger, w.config.policy))];
  t.equal(pieces.join(''), whole);
  t.ok(pieces.length > 9, `made a volume at a time (${pieces.length} pieces)`);
  const parsed = JSON.parse(whole) as ReturnType<typeof gatewayStatus>;
  t.equal(parsed.origins[0]!.volumes.length, 0, 'an origin with no volume');
  t.equal(parsed.origins[2]!.volumes[0]!.reservedBytes, 4096);
  t.equal(parsed.origins[1]!.volumes[0]!.history.length, 5);
  t.equal([...statusText(statusWalk(1, new Map(), w.registry, w.ledger, w.config.policy))].join(''), JSON.stringify(gatewayStatus(1, new Map(), w.registry, w.ledger, w.config.policy, now)), 'no origins at all');
});

t.test('the status page in pieces is the page', async (t) => {
  const w = world(t, 3, 2);
  const now = Date.now();
  const whole = gatewayStatus(1, w.origins, w.registry, w.ledger, w.config.policy, now);
  const pieces = [...statusPageText(statusWalk(1, w.origins, w.registry, w.ledger, w.config.policy, now))];
  t.equal(pieces.join(''), statusPage(whole));
  t.ok(pieces.length > 6, 'a piece per volume');
  t.match(pieces.join(''), /no volume reported yet/, 'o0 has none');
});

t.test('readiness: fresh snapshots and health, read without the growth figures', async (t) => {
  const w = world(t, 3, 2);
  const ready = readiness(w.origins, w.registry, w.ledger, w.config.policy);
  t.same(ready, { ready: false, waitingFor: ['o0: no fresh snapshot'], notes: [] }, 'o0 has none; o1 and o2 have one fresh volume (a stale one does not matter)');
  const later = readiness(w.origins, w.registry, w.ledger, w.config.policy, Date.now() + 3_600_000);
  t.same(later.waitingFor, ['o0: no fresh snapshot', 'o1: no fresh snapshot', 'o2: no fresh snapshot'], 'an hour on, all stale');
});

t.test('/status over HTTP: written a chunk at a time, with the event loop turning between chunks', async (t) => {
  const w = world(t, 41, 50);
  // Counts turns of the event loop while the answer is written.
  let turns = 0;
  let counting = true;
  const tick = (): void => {
    turns++;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  t.teardown(() => void (counting = false));
  const madeAt: number[] = [];
  const admin = await startAdmin({ host: '127.0.0.1', port: 0, token: '' }, {
    token: () => '',
    statusWalk: () => {
      const walk = statusWalk(1, w.origins, w.registry, w.ledger, w.config.policy);
      // Notes the turn at which each volume is read.
      return {
        ...walk,
        origins: [...walk.origins].map((o) => ({
          ...o,
          volumes: { *[Symbol.iterator]() {
            for (const v of o.volumes) {
              madeAt.push(turns);
              yield v;
            }
          } },
        })),
      };
    },
    readiness: () => readiness(w.origins, w.registry, w.ledger, w.config.policy),
    metrics: null,
    reload: () => Promise.reject(new Error('not in this test')),
  });
  t.teardown(() => admin.close());
  const reply = await request(`http://127.0.0.1:${admin.address.port}/status`);
  t.equal(reply.status, 200);
  t.equal(reply.headers['content-type'], 'application/json');
  t.equal(reply.headers['transfer-encoding'], 'chunked');
  const body = JSON.parse(reply.body.toString()) as ReturnType<typeof gatewayStatus>;
  t.equal(body.origins.length, 41);
  t.equal(body.origins.reduce((n, o) => n + o.volumes.length, 0), 2000, 'every volume');
  const turnsOf = (from: number): number => new Set(madeAt.slice(from)).size;
  // A chunk is at least CHUNK_CHARS, and at most that and one piece more.
  t.ok(reply.body.length > 10 * CHUNK_CHARS, `a large answer (${reply.body.length} bytes)`);
  t.ok(turnsOf(0) >= Math.floor(reply.body.toString().length / (2 * CHUNK_CHARS)), `its volumes were read over ${turnsOf(0)} turns of the event loop, not in one`);
  const read = madeAt.length;
  const page = await request(`http://127.0.0.1:${admin.address.port}/`);
  counting = false;
  t.equal(page.status, 200);
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  t.equal(page.body.toString().match(/<section class="volume">/g)?.length, 2000, 'the page: every volume');
  t.ok(turnsOf(read) >= Math.floor(page.body.toString().length / (2 * CHUNK_CHARS)), `the page's volumes were read over ${turnsOf(read)} turns`);
  t.ok(page.body.toString().endsWith('</body></html>\n'));
  const ready = await request(`http://127.0.0.1:${admin.address.port}/readyz`);
  t.equal(ready.status, 503);
  t.same(JSON.parse(ready.body.toString()), { status: 'not ready', waitingFor: ['o0: no fresh snapshot'] });
});

/** An admin listener over `w` whose walk counts the volumes it reads and notes when a walk is closed. */
async function countingAdmin(t: Test, w: ReturnType<typeof world>) {
  const seen = { read: 0, closed: 0 };
  const admin = await startAdmin({ host: '127.0.0.1', port: 0, token: '' }, {
    token: () => '',
    statusWalk: () => {
      const walk = statusWalk(1, w.origins, w.registry, w.ledger, w.config.policy);
      return {
        ...walk,
        origins: { *[Symbol.iterator]() {
          try {
            for (const o of walk.origins) {
              yield { ...o, volumes: { *[Symbol.iterator]() {
                for (const v of o.volumes) {
                  seen.read++;
                  yield v;
                }
              } } };
            }
          } finally {
            seen.closed++;
          }
        } },
      };
    },
    readiness: () => readiness(w.origins, w.registry, w.ledger, w.config.policy),
    metrics: null,
    reload: () => Promise.reject(new Error('not in this test')),
  });
  t.teardown(() => admin.close());
  return { seen, port: admin.address.port };
}

t.test('HEAD /status and HEAD /: the head only, without walking the volumes', async (t) => {
  const w = world(t, 3, 20);
  const { seen, port } = await countingAdmin(t, w);
  for (const path of ['/status', '/']) {
    const reply = await request(`http://127.0.0.1:${port}${path}`, { method: 'HEAD' });
    t.equal(reply.status, 200, path);
    t.equal(reply.body.length, 0, `${path}: no body`);
    t.match(reply.headers['content-type'], path === '/' ? /text\/html/ : /application\/json/);
  }
  t.equal(seen.read, 0, 'no volume was read for a HEAD');
});

t.test('a client that goes mid-answer: the walk stops where it was and is closed', async (t) => {
  const w = world(t, 5, 1000);
  const { seen, port } = await countingAdmin(t, w);
  const socket = net.connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write('GET /status HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.destroy();
  await until(() => seen.closed === 1, 'the walk is closed');
  t.ok(seen.read < 4000, `it stopped after ${seen.read} of 4000 volumes`);
});

t.test('volumes dropped and added while a walk is under way (a reload, new volumes): the text stays whole and parses', async (t) => {
  for (const make of [statusText, statusPageText] as const) {
    const w = world(t, 4, 30);
    let text = '';
    let pieces = 0;
    for (const piece of make(statusWalk(1, w.origins, w.registry, w.ledger, w.config.policy))) {
      text += piece;
      if (++pieces !== 10) continue;
      // The walk is inside o1's volumes: a reload keeps only a few of every origin's, and volumes appear.
      w.registry.retain((s) => s.volume === '/v0' || s.volume === '/v1');
      for (let v = 30; v < 40; v++) w.registry.volume('o1', `/v${v}`);
      w.registry.volume('o3', '/late');
    }
    if (make === statusText) {
      const doc = JSON.parse(text) as ReturnType<typeof gatewayStatus>;
      t.same(doc.origins.map((o) => o.volumes.length), [0, 30, 2, 3], 'the origin being walked as it was when its walk began; those after it as they are now');
    } else {
      t.ok(text.endsWith('</body></html>\n'), 'the page ends');
      t.equal(text.split('<article').length - 1, 4, 'every origin');
    }
  }
});
