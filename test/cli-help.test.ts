import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CLI } from './helpers/process.js';

const headroom = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });
const version = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string }).version;

t.test('--version, -v and version print the package version and exit 0', async (t) => {
  for (const flag of ['--version', '-v', 'version']) {
    const run = headroom([flag]);
    t.equal(run.status, 0, `${flag}: exit 0`);
    t.equal(run.stdout, `headroom ${version}\n`, `${flag}: the package's version`);
  }
});

t.test('<command> --help lists the command’s options; -h and help print the usage', async (t) => {
  const proxy = headroom(['proxy', '--help']);
  t.equal(proxy.status, 0);
  t.match(proxy.stdout, /headroom proxy --config FILE/);
  t.match(proxy.stdout, /--listen\.port\s+Port the gateway listens on \(0 = any free port\)\. \(default: 8080\)/, 'each option with what it does and its default');
  t.match(proxy.stdout, /--policy\.onUnknown/);
  t.notMatch(proxy.stdout, /--admin\.token.*default/, 'no default shown for a secret');
  const agent = headroom(['agent', '-h']);
  t.equal(agent.status, 0);
  t.match(agent.stdout, /--paths\s/, 'the agent lists its own options');
  t.notMatch(agent.stdout, /--policy\./, 'and not the gateway’s');
  for (const flag of ['-h', '--help', 'help']) {
    const run = headroom([flag]);
    t.equal(run.status, 0, `${flag}: exit 0`);
    t.match(run.stdout, /headroom version/, `${flag}: the usage`);
  }
});
