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
  t.ok(['tenant-quota/index.js', 'decide/index.js', 'middleware/express.js', 'middleware/fastify.js'].every((p) => paths.includes(`dist/plugins/${p}`)), 'the first-party plugins are in it');
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
import { loadGatewayConfig, definePlugin, type GatewayConfig, type Constraint, type Verdict } from '@headroom-gateway/headroom';
const result = loadGatewayConfig({ file: null, values: {} });
const config: GatewayConfig | null = result.ok ? result.config : null;
const constraint: Constraint = { name: 'example', admit: () => undefined };
const plugin = definePlugin({
  name: 'typed',
  options: { limit: { format: 'nat', default: 1 } },
  start: (ctx, options) => {
    const limit: number = options.limit;
    const judged: Promise<Verdict> = ctx.check({ method: 'PUT', target: '/a', host: 'h', headers: {} });
    void judged;
    return { constraints: [constraint], reload: (next) => void (next.limit + limit) };
  },
});
export { config, constraint, plugin };
`);
  // A plugin of the user's own, against the public API, loaded from the configuration by its path.
  writeFileSync(path.join(project, 'no-exe.mjs'), `
import { definePlugin } from '@headroom-gateway/headroom';
export default definePlugin({
  name: 'no-exe',
  options: { suffix: { format: String, default: '.exe' } },
  start: (ctx, options) => ({
    constraints: [{
      name: 'no-exe',
      admit: (exchange) => exchange.req.method === 'PUT' && exchange.path.endsWith(options.suffix)
        ? { status: 403, error: 'executable_refused', detail: 'no executables here', suggestedAction: 'zip it' }
        : undefined,
    }],
  }),
});
`);
  writeFileSync(path.join(project, 'headroom.yaml'), `
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
origins: [{ name: o, url: "http://127.0.0.1:9" }]
routes: [{ origin: o }]
plugins:
  - { module: ./no-exe.mjs, options: { suffix: .exe } }
  - { name: decide, options: { listen: { host: 127.0.0.1, port: 0 } } }
log: { level: silent }
`);
  writeFileSync(path.join(project, 'refuse.mjs'), `
import http from 'node:http';
import { startGateway, loadGatewayConfig, createLogger } from '@headroom-gateway/headroom';
const loaded = loadGatewayConfig({ file: 'headroom.yaml', env: {} });
if (!loaded.ok) throw new Error(loaded.problems.join('; '));
const gateway = await startGateway(loaded.config, { logger: createLogger('silent') });
const answer = await new Promise((resolve) => {
  const req = http.request({ port: gateway.address.port, host: '127.0.0.1', method: 'PUT', path: '/setup.exe', headers: { 'content-length': 2 } }, (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => resolve(res.statusCode + ' ' + JSON.parse(body).error));
  });
  req.end('MZ');
});
console.log(answer);
await gateway.shutdown();
const express = await import('@headroom-gateway/headroom/express');
const fastify = await import('@headroom-gateway/headroom/fastify');
console.log(typeof express.headroom, typeof fastify.headroom);
`);
  t.equal((await run(process.execPath, ['refuse.mjs'], { cwd: project })).stdout, '403 executable_refused\nfunction function\n', "the user's plugin, loaded from the configuration, refuses a write with its own reason (beside a first-party one, by name); the middleware imports by the package's name");
  const pluginChecked = await run(bin, ['check-config', 'headroom.yaml'], { cwd: project });
  t.match(pluginChecked.stdout, /a valid gateway configuration/, 'check-config loads it too');
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  const typed = await run(tsc, ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), '--types', 'node', 'embed.ts'], { cwd: project }).then(() => 'ok', (err: { stdout: string }) => err.stdout);
  t.equal(typed, 'ok', 'its types check in a strict TypeScript project');
});
