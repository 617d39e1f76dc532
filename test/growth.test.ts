import t from 'tap';
import { GrowthHistory, growthOf, type GrowthPoint } from '../src/headroom/growth.js';
import { statusPage } from '../src/admin/status-page.js';
import { HeadroomRegistry } from '../src/headroom/registry.js';
import type { GatewayStatus, VolumeStatus } from '../src/admin/status.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const T0 = Date.UTC(2026, 0, 1);

/** One point a minute from T0, used bytes as `used(i)`. */
const series = (n: number, used: (i: number) => number): GrowthPoint[] => Array.from({ length: n }, (_, i) => ({ at: T0 + i * 60_000, usedBytes: used(i) }));

/** A deterministic scatter in [-1, 1] (a test must not depend on Math.random). */
const scatter = (i: number): number => Math.sin(i * 12.9898) * 0.5 + Math.sin(i * 78.233) * 0.5;

t.test('steady growth: the rate is the slope, the time is what is left to flood stage at it', async (t) => {
  // 10 GiB volume, 5 GiB used, 1 MiB a minute; flood stage at 90% = 9 GiB.
  const points = series(10, (i) => 5 * GiB + i * MiB);
  const g = growthOf(points, 10 * GiB, 0.9);
  t.equal(g.bytesPerSecond!.toFixed(3), (MiB / 60).toFixed(3), '1 MiB a minute');
  const left = 9 * GiB - (5 * GiB + 9 * MiB);
  t.equal(Math.round(g.secondsToFloodStage!), Math.round(left / (MiB / 60)), 'from the newest point to flood stage at that rate');
  t.equal(g.note, null);
});

t.test('noise: a snapshot far off the line moves the rate by its share, not to its own value', async (t) => {
  const clean = series(30, (i) => 4 * GiB + i * MiB);
  const noisy = clean.map((p, i) => ({ ...p, usedBytes: p.usedBytes + scatter(i) * 0.3 * MiB }));
  const g = growthOf(noisy, 10 * GiB, 0.9);
  t.ok(Math.abs(g.bytesPerSecond! / (MiB / 60) - 1) < 0.05, `within 5% of 1 MiB/min under ±0.3 MiB scatter (${((g.bytesPerSecond! * 60) / MiB).toFixed(3)})`);
  t.ok(g.secondsToFloodStage! > 0, 'a finite time to flood stage');
  // A 200 MiB temporary file in the newest snapshot: the first-to-last difference says 7.9 MiB/min.
  const spike = clean.map((p, i) => (i === clean.length - 1 ? { ...p, usedBytes: p.usedBytes + 200 * MiB } : p));
  const s = growthOf(spike, 10 * GiB, 0.9);
  const twoPoint = (spike[29]!.usedBytes - spike[0]!.usedBytes) / 29 / MiB;
  t.ok((s.bytesPerSecond! * 60) / MiB < 2.5, `one odd snapshot of 30 moves the rate to ${((s.bytesPerSecond! * 60) / MiB).toFixed(2)} MiB/min, not ${twoPoint.toFixed(2)}`);
  const middle = clean.map((p, i) => (i === 15 ? { ...p, usedBytes: p.usedBytes + 200 * MiB } : p));
  t.ok(Math.abs((growthOf(middle, 10 * GiB, 0.9).bytesPerSecond! * 60) / MiB - 1) < 0.1, 'in the middle of the window, hardly at all');
});

t.test('shrinking and flat volumes never reach flood stage', async (t) => {
  const shrinking = growthOf(series(10, (i) => 5 * GiB - i * MiB), 10 * GiB, 0.9);
  t.ok(shrinking.bytesPerSecond! < 0, 'a negative rate');
  t.equal(shrinking.secondsToFloodStage, null, 'never');
  t.equal(shrinking.note, 'shrinking');
  const flat = growthOf(series(10, () => 5 * GiB), 10 * GiB, 0.9);
  t.equal(flat.bytesPerSecond, 0);
  t.equal(flat.secondsToFloodStage, null, 'never');
  t.equal(flat.note, 'not growing');
  // Flat with scatter: the slope comes out positive or negative by chance; no date is made of it.
  const jitter = growthOf(series(30, (i) => 5 * GiB + scatter(i) * MiB), 10 * GiB, 0.9);
  t.equal(jitter.secondsToFloodStage, null, `a flat volume's scatter projects no date (slope ${jitter.bytesPerSecond!.toFixed(1)} B/s)`);
  t.match(jitter.note, /noise|shrinking/);
});

t.test('too few points: no rate, and a reason', async (t) => {
  for (const n of [0, 1, 2]) {
    const g = growthOf(series(n, (i) => GiB + i * MiB), 10 * GiB, 0.9);
    t.equal(g.bytesPerSecond, null, `${n} points: no rate`);
    t.equal(g.secondsToFloodStage, null);
    t.equal(g.note, `3 snapshots needed for a growth rate, ${n} so far`);
  }
  const sameMoment = growthOf([0, 1, 2].map((i) => ({ at: T0, usedBytes: GiB + i })), 10 * GiB, 0.9);
  t.equal(sameMoment.bytesPerSecond, null, 'points all of one moment: no rate');
});

t.test('at or past flood stage: 0, whatever the rate', async (t) => {
  const past = growthOf(series(5, (i) => 9.5 * GiB - i * MiB), 10 * GiB, 0.9);
  t.equal(past.secondsToFloodStage, 0, 'shrinking, but still past flood stage');
  t.equal(past.note, 'at or past flood stage');
  t.equal(growthOf(series(1, () => 9 * GiB), 10 * GiB, 0.9).secondsToFloodStage, 0, 'exactly at it, with one point');
});

t.test('the history is bounded in count and age, spans its window and keeps the newest point current', async (t) => {
  const history = new GrowthHistory({ points: 8, windowMs: 60_000 });
  for (let i = 0; i < 8; i++) history.record('v', T0 + i * 100, i);
  t.same(history.points('v').map((p) => p.usedBytes), [0, 1, 2, 3, 4, 5, 6, 7], 'every snapshot while there is room');
  // One snapshot every 100 ms for 10 minutes: 6000 of them.
  let most = 0;
  for (let i = 8; i < 6000; i++) {
    history.record('v', T0 + i * 100, i);
    most = Math.max(most, history.points('v').length);
  }
  t.equal(most, 8, 'never more than 8 points');
  const points = history.points('v');
  t.equal(points[points.length - 1]!.usedBytes, 5999, 'the newest point is the newest snapshot');
  t.ok(points[0]!.at >= T0 + 5999 * 100 - 60_000, 'none older than the window');
  t.ok(points[points.length - 1]!.at - points[0]!.at >= 30_000, `they span at least half the window (${points[points.length - 1]!.at - points[0]!.at} ms)`);
  history.record('v', T0, 1);
  t.equal(history.points('v')[history.points('v').length - 1]!.usedBytes, 5999, 'an older snapshot than the newest is ignored');
  history.forget('v');
  t.same(history.points('v'), [], 'forgotten');
});

t.test('the registry records each snapshot a volume takes in, and forgets a volume it drops', async (t) => {
  const registry = new HeadroomRegistry({ floodStage: 0.9, floodRelease: 0.8 }, { growth: new GrowthHistory() });
  const state = registry.volume('files', '/srv');
  const snapshot = (at: number, available: number) => ({ totalBytes: 10 * MiB, availableBytes: available, totalInodes: null, freeInodes: null, takenAt: at, source: 'local' as const });
  state.record(snapshot(T0, 8 * MiB), { bytes: 0, inodes: 0, ended: 0, inFlight: 0 });
  state.record(snapshot(T0 + 1000, 7 * MiB), { bytes: 0, inodes: 0, ended: 0, inFlight: 0 });
  state.record(snapshot(T0 + 500, 9 * MiB), { bytes: 0, inodes: 0, ended: 0, inFlight: 0 }); // older than the current one: the volume ignores it
  t.same(registry.growth!.points(state.key), [{ at: T0, usedBytes: 2 * MiB }, { at: T0 + 1000, usedBytes: 3 * MiB }]);
  registry.retain(() => false);
  t.same(registry.growth!.points(state.key), [], 'a dropped volume leaves no history');
  t.equal(new HeadroomRegistry({ floodStage: 0.9, floodRelease: 0.8 }).growth, null, 'none unless asked for (a plugin’s rooms)');
});

t.test('10,000 volumes: memory is fixed per volume, not per snapshot', async (t) => {
  const history = new GrowthHistory();
  const heap = (): number => {
    globalThis.gc?.();
    return process.memoryUsage().heapUsed;
  };
  for (let round = 0; round < 40; round++) for (let v = 0; v < 10_000; v++) history.record(`v${v}`, T0 + round * 1000, round);
  const after40 = heap();
  for (let round = 40; round < 200; round++) for (let v = 0; v < 10_000; v++) history.record(`v${v}`, T0 + round * 1000, round);
  const after200 = heap();
  t.ok(history.points('v9999').length <= 32, 'bounded per volume');
  // Without a gc() to call, heapUsed holds garbage too: a loose bound, far below what 1.6 M kept points would take.
  t.ok(after200 - after40 < 16 * 1024 * 1024, `160 more rounds of 10,000 snapshots grow the heap by ${((after200 - after40) / MiB).toFixed(1)} MiB`);
});

const volume = (over: Partial<VolumeStatus>): VolumeStatus => ({
  volume: '/srv/dav', totalBytes: 16 * MiB, availableBytes: 4 * MiB, usableBytes: 1 * MiB, reservedBytes: 0, writtenSinceSnapshotBytes: 0,
  reserveBytes: 1 * MiB, totalInodes: 1000, freeInodes: 900, snapshotAgeMs: 400, fresh: true, flood: false, markedFull: false, source: 'local', lastError: null,
  growthBytesPerSecond: null, secondsToFloodStage: null, growthNote: null, history: [], ...over,
});
const page = (volumes: VolumeStatus[]): string => statusPage({
  generation: 1, reservedBytes: 0, ledger: { backend: 'memory', state: 'process', lastError: null, unavailable: 0 }, floodStage: 0.9, floodRelease: 0.8,
  origins: [{ name: 'files', url: 'http://127.0.0.1:1', healthy: null, lastHealthError: null, lastAgentError: null, lastAgentErrorAt: null, remoteSource: null, volumes }],
} satisfies GatewayStatus);

t.test('the status page draws each volume’s history and says its time to flood stage in words', async (t) => {
  const history: Array<[number, number]> = [[T0, 4 * MiB], [T0 + 60_000, 8 * MiB], [T0 + 120_000, 12 * MiB]];
  const html = page([volume({ history, growthBytesPerSecond: (4 * MiB) / 60, secondsToFloodStage: 150 })]);
  // The scale: from 4 MiB (the lowest) less a fifth of the 12 MiB above it, 1.6 MiB, to 16 MiB.
  t.match(html, /<svg class="history"[^>]*aria-label="\/srv\/dav: used bytes over the last 2 minutes, from 1\.6 MiB to 16\.0 MiB"/, 'an inline SVG of the last 2 minutes, its scale said');
  t.match(html, /<polyline class="line" points="0\.0,46\.7 160\.0,31\.1 320\.0,15\.6"\/>/, 'used bytes 4, 8, 12 MiB on that scale');
  t.match(html, /<line class="flood" x1="0" x2="320" y1="6\.2" y2="6\.2">/, 'flood stage (90%) as a line');
  t.match(html, /<text x="3" y="10">16\.0 MiB<\/text><text x="3" y="53">1\.6 MiB<\/text>/, 'both ends of the scale labelled');
  t.match(html, /flood stage in <b>about 3 minutes<\/b> · growing 68\.3 KiB\/s/, 'the time to flood stage in words, and the rate');
  t.match(page([volume({ history, growthBytesPerSecond: 0.5, growthNote: 'no growth clear of the noise' })]), /flood stage: never at this rate · growing 1\.8 KiB\/h <span class="muted">\(no growth clear of the noise\)<\/span>/, 'a slow rate per hour; never');
  t.match(page([volume({ history, growthBytesPerSecond: -MiB, secondsToFloodStage: 0, growthNote: 'at or past flood stage' })]), /<span class="bad">at flood stage<\/span> · shrinking 1\.0 MiB\/s/);
  const early = page([volume({ history: [[T0, MiB]], growthNote: '3 snapshots needed for a growth rate, 1 so far' })]);
  t.notMatch(early, /<svg/, 'no graph of one point');
  t.match(early, /time to flood stage unknown <span class="muted">\(3 snapshots needed for a growth rate, 1 so far\)/);
  t.match(page([volume({ history, secondsToFloodStage: 3 * 86400, growthBytesPerSecond: 1 })]), /about 3 days/);
  t.match(page([volume({ history, growthBytesPerSecond: 0, growthNote: 'not growing' })]), /flood stage: never at this rate · flat <span class="muted">\(not growing\)/);
});
