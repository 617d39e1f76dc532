import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');

t.test('the packed package installs and runs: version and check-config work, and it ships no tests, bench or CI', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-pack-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 1 << 24 });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const paths = packed!.files.map((f) => f.path);
  t.ok(paths.includes('dist/src/cli.js'), 'the built CLI is in it');
  t.ok(paths.includes('LICENSE') && paths.includes('README.md') && paths.includes('CHANGELOG.md'));
  t.ok(paths.includes('deploy/systemd/headroom.service'), 'the deployment files travel with the package');
  t.same(paths.filter((p) => /^(test|bench|\.ci|src)\//.test(p) || p.startsWith('dist/test')), [], 'no tests, bench, CI or TypeScript sources');

  const project = path.join(dir, 'user');
  mkdirSync(project);
  await run('npm', ['init', '-y'], { cwd: project });
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, packed!.filename)], { cwd: project, maxBuffer: 1 << 24 });
  const bin = path.join(project, 'node_modules', '.bin', 'headroom');
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  t.equal((await run(bin, ['--version'])).stdout, `headroom ${version}\n`, 'headroom --version from the installed package');
  const installedExample = path.join(project, 'node_modules', '@headroom-gateway', 'headroom', 'config', 'example.yaml');
  const checked = await run(bin, ['check-config', installedExample]);
  t.match(checked.stdout, /a valid gateway configuration/, 'check-config works from the installed package');
});
