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

t.test('a volume another process measures: a snapshot that arrives late is marked as of its start, never later', async (t) => {
  const realNow = Date.now;
  let now = 2_000_000;
  Date.now = () => now;
  t.teardown(() => void (Date.now = realNow));
  const state = new VolumeState('o', 'v', { floodStage: 0.97, floodRelease: 0.93 }, { fed: true });
  state.addWritten(100);
  now += 50;
  const takenAt = now; // the primary starts measuring here
  now += 20;
  state.addWritten(30); // settled after the measurement started: it may not show them
  now += 30; // the snapshot arrives
  state.record(snapshot(takenAt), state.markAt(takenAt));
  t.equal(state.writtenSinceSnapshot, 30, 'what ended before the measurement started is shown; what ended after still counts');

  state.addStreamed(40);
  now += 5;
  state.record(snapshot(now), state.markAt(now));
  t.equal(state.writtenSinceSnapshot, 40, 'the 30 settled before it are shown; bytes streaming still count (in flight)');
  now += IN_FLIGHT_MS + 10;
  state.record(snapshot(now), state.markAt(now));
  t.equal(state.writtenSinceSnapshot, 0, 'streamed IN_FLIGHT_MS before a measurement started, they are shown');
  state.addWritten(7);
  now += 60_000; // a quiet volume: no change since
  state.record(snapshot(now), state.markAt(now));
  t.equal(state.writtenSinceSnapshot, 0, 'the last change of a quiet volume is shown by the next snapshot (not counted twice for ever)');

  const marks = [] as number[];
  for (let i = 0; i < 50; i++) {
    now += 1;
    state.addWritten(1);
    marks.push(state.markAt(now).bytes);
  }
  t.ok(marks.every((m, i) => i === 0 || m >= marks[i - 1]!), 'marks never go back');
});
