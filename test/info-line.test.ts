import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger, writeInfoLine } from '../src/log/log.js';

/** A logger writing into an array of lines, synchronously. */
function capture(level: 'info' | 'warn') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger(level, destination), lines };
}

t.test('an info line written without the serializer is the line pino writes', async (t) => {
  const { logger, lines } = capture('info');
  const child = logger.child({ worker: 2 });
  const fields = { msg: 'access', method: 'GET', path: '/a "quoted"\\path\u0001é', status: 200, durationMs: 1.5, upstreamMs: null, decision: undefined, client: '127.0.0.1' };
  child.info(fields);
  writeInfoLine(child, fields);
  writeInfoLine(child, {});
  t.equal(lines.length, 3);
  const [byPino, byHand, empty] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  delete byPino!.time;
  const handTime = byHand!.time;
  delete byHand!.time;
  t.same(byHand, byPino, 'the same members and values');
  t.same(Object.keys(byHand!), Object.keys(byPino!), 'in the same order');
  t.match(handTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'the time as pino writes it');
  t.same(Object.keys(empty!), ['level', 'time', 'service', 'worker'], 'no fields: the line is still whole JSON');
});

t.test('nothing is written below the logger level', async (t) => {
  const { logger, lines } = capture('warn');
  writeInfoLine(logger, { msg: 'access' });
  t.same(lines, []);
});
