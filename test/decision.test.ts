import t from 'tap';
import { decide, decideGrowth, type VolumeView, type WriteFacts } from '../src/decision/decision.js';
import { loadGatewayConfig } from '../src/config/load.js';
import type { PolicyConfig } from '../src/config/types.js';

const MiB = 1024 * 1024;
const NOW = 1_000_000;

function policy(values: Record<string, unknown> = {}): PolicyConfig {
  const loaded = loadGatewayConfig({
    file: null,
    env: {},
    values: {
      origins: [{ name: 'o', url: 'http://127.0.0.1:1' }],
      routes: [{ origin: 'o' }],
      policy: { reserve: '1MiB', floodStage: '97%', floodRelease: '93%', minFreeInodes: 100, unknownLength: '4MiB', staleAfter: '10s', ...values },
    },
  });
  if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
  return loaded.config.policy;
}

/** A 16 MiB volume with `available` MiB free, measured `ageMs` ago. */
function volume(available: number, extra: Partial<VolumeView> = {}, ageMs = 100, freeInodes = 10_000): VolumeView {
  return {
    snapshot: { totalBytes: 16 * MiB, availableBytes: available * MiB, totalInodes: 20_000, freeInodes, takenAt: NOW - ageMs, source: 'local' },
    flooded: false,
    markedFull: false,
    reservedBytes: 0,
    writtenSinceSnapshot: 0,
    reservedInodes: 0,
    inodesSinceSnapshot: 0,
    ...extra,
  };
}

const put = (mib: number | null): WriteFacts => ({ declaredBytes: mib === null ? null : mib * MiB, inodes: 1 });

// [name, facts, volume, policy overrides, verdict, status or reserve, reason]
const table: Array<[string, WriteFacts, VolumeView | null, Record<string, unknown>, string, number, string]> = [
  ['fits', put(4), volume(6), {}, 'admit', 4 * MiB, 'fits'],
  ['exactly the usable room fits', put(5), volume(6), {}, 'admit', 5 * MiB, 'fits'],
  ['one byte more than usable', { declaredBytes: 5 * MiB + 1, inodes: 1 }, volume(6), {}, 'reject', 507, 'insufficient_storage'],
  ['8 MiB into 6 MiB free', put(8), volume(6), {}, 'reject', 507, 'insufficient_storage'],
  ['reserved bytes count against usable', put(4), volume(6, { reservedBytes: 2 * MiB }), {}, 'reject', 507, 'insufficient_storage'],
  ['written-since-snapshot counts against usable', put(4), volume(6, { writtenSinceSnapshot: 2 * MiB }), {}, 'reject', 507, 'insufficient_storage'],
  ['a share reserve', put(4), volume(6), { reserve: '25%' }, 'reject', 507, 'insufficient_storage'],
  ['larger than capacity: 413', put(20), volume(16), {}, 'reject', 413, 'too_large'],
  ['capacity counts the reserve', put(16), volume(16), {}, 'reject', 413, 'too_large'],
  ['larger than maxBodySize: 413', put(2), volume(16), { maxBodySize: '1MiB' }, 'reject', 413, 'too_large'],
  ['maxBodySize applies even when unknown', put(2), null, { maxBodySize: '1MiB' }, 'reject', 413, 'too_large'],
  ['flood stage refuses a 0-byte write', put(0), volume(6, { flooded: true }), {}, 'reject', 507, 'flood_stage'],
  ['flood stage holds while the data is stale', put(0), volume(6, { flooded: true }, 60_000), {}, 'reject', 507, 'flood_stage'],
  ['an origin 507 mark refuses', put(0), volume(6, { markedFull: true }), {}, 'reject', 507, 'insufficient_storage'],
  ['few inodes refuse a creating write', put(0), volume(6, {}, 100, 99), {}, 'reject', 507, 'inodes'],
  ['a creating write may not take the volume below minFreeInodes', put(0), volume(6, {}, 100, 100), {}, 'reject', 507, 'inodes'],
  ['one inode above minFreeInodes: admitted', put(0), volume(6, {}, 100, 101), {}, 'admit', 0, 'fits'],
  ['reserved inodes count against free inodes', put(0), volume(6, { reservedInodes: 5 }, 100, 105), {}, 'reject', 507, 'inodes'],
  ['inodes taken since the snapshot count', put(0), volume(6, { inodesSinceSnapshot: 5 }, 100, 105), {}, 'reject', 507, 'inodes'],
  ['a collection’s COPY needs an inode per resource', { declaredBytes: 0, inodes: 20 }, volume(6, {}, 100, 119), {}, 'reject', 507, 'inodes'],
  ['few inodes do not refuse a non-creating write', { declaredBytes: 0, inodes: 0 }, volume(6, {}, 100, 99), {}, 'admit', 0, 'fits'],
  ['unknown length reserves unknownLength', put(null), volume(12), { maxUploadShare: '100%' }, 'admit', 4 * MiB, 'fits'],
  ['unknown length reserves at most the usable room', put(null), volume(3), { maxUploadShare: '100%' }, 'admit', 2 * MiB, 'fits'],
  ['unknown length holds at most maxUploadShare of the usable room', put(null), volume(12), {}, 'admit', Math.floor(0.25 * 11 * MiB), 'fits'],
  ['unknown length with no room left', put(null), volume(1), {}, 'reject', 507, 'insufficient_storage'],
  ['stale snapshot, onUnknown admit', put(4), volume(6, {}, 10_001), {}, 'admit_unknown', 4 * MiB, 'stale'],
  ['stale snapshot, onUnknown reject', put(4), volume(6, {}, 10_001), { onUnknown: 'reject' }, 'reject', 503, 'stale'],
  ['no volume known, onUnknown admit', put(null), null, {}, 'admit_unknown', 4 * MiB, 'stale'],
  ['no snapshot yet, onUnknown reject', put(1), { ...volume(6), snapshot: null }, { onUnknown: 'reject' }, 'reject', 503, 'stale'],
  ['a stale snapshot does not give 413', put(20), volume(16, {}, 20_000), {}, 'admit_unknown', 20 * MiB, 'stale'],
];

for (const [name, facts, view, overrides, verdict, figure, reason] of table) {
  t.test(name, async (t) => {
    const decision = decide(facts, view, policy(overrides), NOW);
    t.equal(decision.verdict, verdict);
    t.equal(decision.reason, reason);
    if (decision.verdict === 'reject') t.equal(decision.status, figure, `status ${figure}`);
    else t.equal(decision.reserveBytes, figure, `reserves ${figure} bytes`);
  });
}

// A chunk of an unknown-length body that is more than the upload holds:
// [name, chunk, held (counted in the view's reserved bytes), volume, policy overrides, verdict, status or next hold, reason]
const growth: Array<[string, number, number, VolumeView, Record<string, unknown>, string, number, string]> = [
  ['room for the chunk: the next stretch is held', 1 * MiB, 0, volume(10), {}, 'admit', Math.floor(0.25 * 8 * MiB), 'fits'],
  ['the stretch is at most unknownLength', 1 * MiB, 0, volume(16), { maxUploadShare: '100%' }, 'admit', 4 * MiB, 'fits'],
  ['what the upload holds is room for its chunk', 2 * MiB, 1 * MiB, volume(3, { reservedBytes: 1 * MiB }), {}, 'admit', 0, 'fits'],
  ['exactly the room left: sent, nothing more held', 2 * MiB, 0, volume(3), {}, 'admit', 0, 'fits'],
  ['one byte more than the room: cut', 2 * MiB + 1, 0, volume(3), {}, 'reject', 507, 'insufficient_storage'],
  ['other reservations count', 1 * MiB, 0, volume(3, { reservedBytes: 2 * MiB }), {}, 'reject', 507, 'insufficient_storage'],
  ['bytes streamed since the snapshot count', 1 * MiB, 0, volume(3, { writtenSinceSnapshot: 2 * MiB }), {}, 'reject', 507, 'insufficient_storage'],
  ['flood stage mid-stream: cut', 1, 0, volume(10, { flooded: true }), {}, 'reject', 507, 'flood_stage'],
  ['an origin 507 mid-stream: cut', 1, 0, volume(10, { markedFull: true }), {}, 'reject', 507, 'insufficient_storage'],
  ['stale: sent, nothing to hold it against', 1 * MiB, 0, volume(0, {}, 20_000), {}, 'admit_unknown', 0, 'stale'],
];

for (const [name, chunk, held, view, overrides, verdict, figure, reason] of growth) {
  t.test(`growth: ${name}`, async (t) => {
    const decision = decideGrowth(chunk, held, view, policy(overrides), NOW);
    t.equal(decision.verdict, verdict);
    t.equal(decision.reason, reason);
    if (decision.verdict === 'reject') t.equal(decision.status, figure, `status ${figure}`);
    else t.equal(decision.reserveBytes, figure, `then holds ${figure} bytes`);
  });
}

t.test('the figures behind a refusal', async (t) => {
  const decision = decide(put(8), volume(6, { reservedBytes: 1 * MiB }), policy(), NOW);
  t.match(decision.figures, {
    requestedBytes: 8 * MiB,
    totalBytes: 16 * MiB,
    availableBytes: 6 * MiB,
    capacityBytes: 15 * MiB,
    usableBytes: 4 * MiB,
    reservedBytes: 1 * MiB,
    freeInodes: 10_000,
    snapshotAgeMs: 100,
  });
});
