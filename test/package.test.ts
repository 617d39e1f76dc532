import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

  // Imported by name: the entry point and its types, and nothing deeper.
  writeFileSync(path.join(project, 'embed.mjs'), `
import { startGateway, loadGatewayConfig, createLogger } from '@headroom-gateway/headroom';
const loaded = loadGatewayConfig({ file: null, env: {}, values: { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, origins: [{ name: 'o', url: 'http://127.0.0.1:9' }], routes: [{ origin: 'o' }] } });
const gateway = await startGateway(loaded.config, { logger: createLogger('silent') });
console.log(typeof gateway.address.port);
await gateway.shutdown();
try { await import('@headroom-gateway/headroom/dist/src/gateway/gateway.js'); console.log('deep import allowed'); } catch (err) { console.log(err.code); }
`);
  t.equal((await run(process.execPath, ['embed.mjs'], { cwd: project })).stdout, 'number\nERR_PACKAGE_PATH_NOT_EXPORTED\n', 'the package starts a gateway by its name; a path into dist/ is private');
  writeFileSync(path.join(project, 'embed.ts'), `
import { loadGatewayConfig, type GatewayConfig, type Constraint } from '@headroom-gateway/headroom';
const result = loadGatewayConfig({ file: null, values: {} });
const config: GatewayConfig | null = result.ok ? result.config : null;
const constraint: Constraint = { name: 'example', admit: () => undefined };
export { config, constraint };
`);
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  const typed = await run(tsc, ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), '--types', 'node', 'embed.ts'], { cwd: project }).then(() => 'ok', (err: { stdout: string }) => err.stdout);
  t.equal(typed, 'ok', 'its types check in a strict TypeScript project');
});
