import t from 'tap';
import { Landings, type Landing } from '../src/headroom/landings.js';

// How a snapshot's growth is taken to show waiting writes landed: only what
// nothing else explains, oldest first.

const settled = async (landing: Landing): Promise<boolean> => {
  let done = false;
  void landing.landed.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

t.test('growth covers the oldest waiting writes first; a write it does not cover stops the rest', async (t) => {
  const landings = new Landings();
  const before = { usedBytes: 1000, shownBytes: 0 };
  const a = landings.expect(300, before);
  const b = landings.expect(500, before);
  const c = landings.expect(100, before);
  landings.record({ usedBytes: 1700, countedBytes: 0, reservedBytes: 900 });
  t.same([await settled(a), await settled(b), await settled(c)], [true, false, false], '700 grown: the first 300 landed, 500 is more than the 400 left, and the 100 after it waits behind it');
  t.equal(landings.size, 2);
  landings.record({ usedBytes: 1900, countedBytes: 300, reservedBytes: 600 });
  t.same([await settled(b), await settled(c)], [true, true], 'the first write’s 300, counted by now, explain that much of the 900 grown: 600 left for the other two');
  t.equal(landings.size, 0);
});

t.test('what the gateway counted, and what other writes hold, explain growth before the waiting writes do', async (t) => {
  const landings = new Landings();
  const w = landings.expect(100, { usedBytes: 0, shownBytes: 50 });
  landings.record({ usedBytes: 149, countedBytes: 100, reservedBytes: 100 });
  t.notOk(await settled(w), '149 grown, 50 of it counted since the snapshot before: 99 is not the write’s 100');
  landings.record({ usedBytes: 500, countedBytes: 100, reservedBytes: 500 });
  t.notOk(await settled(w), '500 grown, 50 counted, 400 held by another upload whose bytes may be there: 50 is not enough');
  landings.record({ usedBytes: 500, countedBytes: 400, reservedBytes: 100 });
  t.ok(await settled(w), 'that upload ended, its 300 counted: 500 − 350 leaves 150');
});

t.test('a deletion only delays; a cancelled write no longer waits nor takes growth', async (t) => {
  const landings = new Landings();
  const before = { usedBytes: 1000, shownBytes: 0 };
  const gone = landings.expect(200, before);
  const w = landings.expect(100, before);
  landings.record({ usedBytes: 900, countedBytes: 0, reservedBytes: 300 });
  t.notOk(await settled(w), 'the volume shrank: nothing is shown landed');
  gone.cancel();
  gone.cancel();
  t.equal(landings.size, 1, 'cancelled once, however often asked');
  landings.record({ usedBytes: 1100, countedBytes: 200, reservedBytes: 100 });
  t.notOk(await settled(w), 'the cancelled write’s bytes, counted at its end, explain the growth');
  landings.record({ usedBytes: 1300, countedBytes: 200, reservedBytes: 100 });
  t.ok(await settled(w), 'growth beyond them is the waiting write’s');
  t.notOk(await settled(gone), 'the cancelled write never settles');
});
