import t from 'tap';
import { Landings, type Landing } from '../src/headroom/landings.js';

// How a snapshot's growth is taken to show waiting writes landed: only what
// nothing else explains, oldest first.

const TOTAL = 1 << 30;
const NO_WRITES = { ended: 0, uncertain: 0 };
const before = (usedBytes: number, shownBytes: number, writes = NO_WRITES) => ({ usedBytes, shownBytes, totalBytes: TOTAL, writes });
const now = (usedBytes: number, countedBytes: number, reservedBytes: number, writes = NO_WRITES, totalBytes = TOTAL) => ({ usedBytes, countedBytes, reservedBytes, writes, totalBytes });

const settled = async (landing: Landing): Promise<boolean> => {
  let done = false;
  void landing.landed.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

t.test('growth covers the oldest waiting writes first; a write it does not cover stops the rest', async (t) => {
  const landings = new Landings();
  const start = before(1000, 0);
  const a = landings.expect(300, start);
  const b = landings.expect(500, start);
  const c = landings.expect(100, start);
  landings.record(now(1700, 0, 900));
  t.same([await settled(a), await settled(b), await settled(c)], [true, false, false], '700 grown: the first 300 landed, 500 is more than the 400 left, and the 100 after it waits behind it');
  t.equal(landings.size, 2);
  landings.record(now(1900, 300, 600));
  t.same([await settled(b), await settled(c)], [true, true], 'the first write’s 300, counted by now, explain that much of the 900 grown: 600 left for the other two');
  t.equal(landings.size, 0);
});

t.test('what the gateway counted, and what other writes hold, explain growth before the waiting writes do', async (t) => {
  const landings = new Landings();
  const w = landings.expect(100, before(0, 50));
  landings.record(now(149, 100, 100));
  t.notOk(await settled(w), '149 grown, 50 of it counted since the snapshot before: 99 is not the write’s 100');
  landings.record(now(500, 100, 500));
  t.notOk(await settled(w), '500 grown, 50 counted, 400 held by another upload whose bytes may be there: 50 is not enough');
  landings.record(now(500, 400, 100));
  t.ok(await settled(w), 'that upload ended, its 300 counted: 500 − 350 leaves 150');
});

t.test('a deletion only delays; a cancelled write no longer waits nor takes growth', async (t) => {
  const landings = new Landings();
  const start = before(1000, 0);
  const gone = landings.expect(200, start);
  const w = landings.expect(100, start);
  landings.record(now(900, 0, 300));
  t.notOk(await settled(w), 'the volume shrank: nothing is shown landed');
  gone.cancel();
  gone.cancel();
  t.equal(landings.size, 1, 'cancelled once, however often asked');
  landings.record(now(1100, 200, 100));
  t.notOk(await settled(w), 'the cancelled write’s bytes, counted at its end, explain the growth');
  landings.record(now(1300, 200, 100));
  t.ok(await settled(w), 'growth beyond them is the waiting write’s');
  t.notOk(await settled(gone), 'the cancelled write never settles');
});

t.test('growth the writes that ended may take beyond their bytes, or a write of unknown size, or another size of volume, ends nothing', async (t) => {
  const KiB = 1024;
  const landings = new Landings();
  const w = landings.expect(100 * KiB, before(0, 0, { ended: 5, uncertain: 0 }));
  landings.record(now(612 * KiB, 512, 100 * KiB, { ended: 13, uncertain: 0 }));
  t.notOk(await settled(w), '8 small writes ended (512 bytes counted): up to 8 × 64 KiB of the 612 KiB grown may be theirs');
  landings.record(now(900 * KiB, 512, 100 * KiB, { ended: 13, uncertain: 1 }));
  t.notOk(await settled(w), 'a COPY whose size was a guess ended: its growth could be anything');
  const v = new Landings();
  const x = v.expect(100 * KiB, before(0, 0));
  v.record(now(200 * KiB, 0, 100 * KiB, NO_WRITES, TOTAL / 2));
  t.notOk(await settled(x), 'the volume is measured at another size: its use is not compared');
  v.record(now(100 * KiB, 0, 100 * KiB));
  t.ok(await settled(x), 'nothing else ended: the 100 KiB grown are the write’s');
});
