import t from 'tap';
import { IN_FLIGHT_MS, VolumeState } from '../src/headroom/volume-state.js';

const snapshot = (takenAt: number) => ({ totalBytes: 100, availableBytes: 100, totalInodes: 10, freeInodes: 10, takenAt, source: 'local' as const });

t.test('bytes still streaming count until a measurement that started long enough after them', async (t) => {
  const state = new VolumeState('o', 'v', { floodStage: 0.97, floodRelease: 0.93 });
  let now = 1_000_000;
  const measure = (): void => state.record(snapshot(now), state.writtenMark(now));
  measure();
  state.addStreamed(40);
  now += 10;
  measure();
  t.equal(state.writtenSinceSnapshot, 40, 'a measurement just after them may not show them: they may still be in flight');
  now += IN_FLIGHT_MS - 1;
  measure();
  t.equal(state.writtenSinceSnapshot, 40, 'nor one that started a little less than IN_FLIGHT_MS after them');
  now += 1;
  measure();
  t.equal(state.writtenSinceSnapshot, 0, 'once a measurement started that long after them, it shows them');
  state.addWritten(25);
  now += 10;
  measure();
  t.equal(state.writtenSinceSnapshot, 0, 'bytes of an ended exchange are shown by the next measurement');
  state.addCreated(2);
  t.equal(state.inodesSinceSnapshot, 2);
  measure();
  t.equal(state.inodesSinceSnapshot, 0, 'inodes of an ended exchange likewise');
});
