import t, { type Test } from 'tap';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI } from './helpers/process.js';
import { freePort, request, until } from './helpers/http.js';

const run = promisify(execFile);
const NOBODY = 65534;

/** `headroom demo` with `args`, once its banner is out; killed when the test ends. */
async function startDemo(t: Test, args: string[], options: { uid?: number; gid?: number; env: NodeJS.ProcessEnv }): Promise<{ demo: ChildProcess; banner: () => string }> {
  const demo = spawn(process.execPath, [CLI, 'demo', ...args], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => demo.kill('SIGKILL'));
  let banner = '';
  demo.stderr!.on('data', (d: Buffer) => (banner += d.toString()));
  demo.stdout!.resume();
  await until(() => banner.includes('Stop with Ctrl-C'), 'the demo’s banner', 10_000);
  return { demo, banner: () => banner };
}

t.test('the demo prints two curl lines: one gets 201, the other 507 with its JSON body', async (t) => {
  // As a user without privileges, as a newcomer would run it.
  const asNobody = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
  const { demo, banner: shown } = await startDemo(t, [], { ...asNobody, env: { PATH: process.env.PATH, HEADROOM_LISTEN_PORT: '0', HOME: '/tmp' } });
  const banner = shown();
  const curls = banner.split('\n').filter((l) => l.trim().startsWith('curl ')).map((l) => l.trim());
  t.equal(curls.length, 2, 'two ready curl lines');

  const first = await run('bash', ['-c', curls[0]!]);
  t.equal(first.stdout.trim(), '201', 'the first upload is admitted');
  const second = await run('bash', ['-c', curls[1]!]);
  const lines = second.stdout.trim().split('\n');
  t.equal(lines.at(-1), '507', 'the second gets 507');
  t.match(JSON.parse(lines[0]!), { status: 507, error: 'insufficient_storage', requested: 20 * 1024 * 1024 }, 'with its JSON body');

  const store = /stores files in (\S+)/.exec(banner)![1]!;
  demo.kill('SIGTERM');
  const [code] = await once(demo, 'exit');
  t.equal(code, 0, 'SIGTERM stops the demo cleanly');
  t.notOk(existsSync(path.dirname(store)), 'and removes its files');
});

/** The demo's temp directories now in the system's temp dir. */
const demoDirs = (): string[] => readdirSync(os.tmpdir()).filter((name) => name.startsWith('headroom-demo-'));

t.test('the demo takes its ports from flags, and leaves no files behind when stopped or when it cannot start', async (t) => {
  const [port, adminPort] = [await freePort(), await freePort()];
  const before = demoDirs();
  const { demo, banner: shown } = await startDemo(t, ['--listen.port', String(port), '--admin.port', String(adminPort)], { env: { PATH: process.env.PATH, HOME: '/tmp' } });
  t.match(shown(), `http://127.0.0.1:${port}/`, 'the gateway listens on --listen.port');
  t.equal((await request(`http://127.0.0.1:${adminPort}/healthz`)).status, 200, 'and the admin listener on --admin.port');
  const store = /stores files in (\S+)/.exec(shown())![1]!;
  t.ok(existsSync(store));

  // Started again on the same port: it cannot start, says what to do, and removes its files.
  const second = await run(process.execPath, [CLI, 'demo', '--listen.port', String(port), '--admin.port', '0'], { env: { PATH: process.env.PATH } }).catch((err: { code: number; stderr: string }) => err);
  t.equal((second as { code: number }).code, 1, 'a taken port: exit 1');
  t.match((second as { stderr: string }).stderr, /EADDRINUSE.*pick another with --listen\.port N/, 'with the flag to pick another');

  demo.kill('SIGINT');
  const [code] = await once(demo, 'exit');
  t.equal(code, 0, 'Ctrl-C stops the demo cleanly');
  t.match(shown(), /Stopping the demo/, 'and says so');
  t.notOk(existsSync(path.dirname(store)), 'its temp directory is gone');
  t.same(demoDirs().filter((d) => !before.includes(d)), [], 'no demo directory is left, from either run');
});
