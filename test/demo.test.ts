import t from 'tap';
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { CLI } from './helpers/process.js';
import { until } from './helpers/http.js';

const run = promisify(execFile);
const NOBODY = 65534;

t.test('the demo prints two curl lines: one gets 201, the other 507 with its JSON body', async (t) => {
  // As a user without privileges, as a newcomer would run it.
  const asNobody = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
  const demo = spawn(process.execPath, [CLI, 'demo'], {
    ...asNobody,
    env: { PATH: process.env.PATH, HEADROOM_LISTEN_PORT: '0', HOME: '/tmp' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => demo.kill('SIGKILL'));
  let banner = '';
  demo.stderr!.on('data', (d: Buffer) => (banner += d.toString()));
  demo.stdout!.resume();
  await until(() => banner.includes('Stop with Ctrl-C'), 'the demo’s banner', 10_000);
  const curls = banner.split('\n').filter((l) => l.trim().startsWith('curl ')).map((l) => l.trim());
  t.equal(curls.length, 2, 'two ready curl lines');

  const first = await run('bash', ['-c', curls[0]!]);
  t.equal(first.stdout.trim(), '201', 'the first upload is admitted');
  const second = await run('bash', ['-c', curls[1]!]);
  const lines = second.stdout.trim().split('\n');
  t.equal(lines.at(-1), '507', 'the second gets 507');
  t.match(JSON.parse(lines[0]!), { status: 507, error: 'insufficient_storage', requested: 20 * 1024 * 1024 }, 'with its JSON body');

  demo.kill('SIGTERM');
  const [code] = await once(demo, 'exit');
  t.equal(code, 0, 'SIGTERM stops the demo cleanly');
});
