import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { loadGatewayConfig } from '../src/config/load.js';
import { resolvePlugins } from '../src/plugin/resolve-plugins.js';
import { configFor, startTestGateway } from './helpers/gateway.js';
import { request } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';

const run = promisify(execFile);
const CLI = path.resolve(import.meta.dirname, '../dist/src/cli.js');

/**
 * A plugin written as a user would, in its own file: it refuses writes
 * larger than `limit` bytes with its own error code, counts its starts and
 * closes in a file next to it, and serves its limit on an admin route.
 */
const PLUGIN = (withReload: boolean) => `
import { appendFileSync } from 'node:fs';
const events = new URL('./events.log', import.meta.url);
export default {
  name: 'size-cap',
  options: { limit: { format: 'nat', default: 100 }, label: { format: String, default: 'cap' } },
  requiredOptions: ['limit'],
  check: (options) => (options.label === 'bad' ? ['label: "bad" is not a label'] : []),
  start(ctx, options) {
    appendFileSync(events, 'start ' + options.limit + '\\n');
    let limit = options.limit;
    return {
      constraints: [{
        name: 'size-cap',
        admit(exchange) {
          const declared = Number(exchange.req.headers['content-length'] ?? 0);
          if (exchange.req.method !== 'PUT' || declared <= limit) return undefined;
          return { status: 413, error: 'over_size_cap', detail: declared + ' bytes are more than ' + limit, suggestedAction: 'send less', members: { limit } };
        },
      }],
      adminRoutes: [{ path: '/', handle: (req, res) => res.end(JSON.stringify({ limit, volumes: ctx.status().origins.length })) }],
      ${withReload ? "reload(next) { appendFileSync(events, 'reload ' + next.limit + '\\n'); limit = next.limit; }," : ''}
      close() { appendFileSync(events, 'close\\n'); },
    };
  },
};
`;

function pluginDir(t: Test, withReload: boolean): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-plugin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'size-cap.mjs'), PLUGIN(withReload));
  return dir;
}

const events = async (dir: string): Promise<string[]> => (await import('node:fs')).readFileSync(path.join(dir, 'events.log'), 'utf8').trim().split('\n');

async function gatewayWith(t: Test, dir: string, options: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const values = (opts: Record<string, unknown>) => ({ plugins: [{ module: './size-cap.mjs', options: opts }], ...extra });
  // The plugin's module is found from the configuration's directory, as a file's would be.
  const config = configFor(origin.url, values(options));
  const withDir = { ...config, plugins: config.plugins.map((p) => ({ ...p, configDir: dir })) };
  let next = withDir;
  const gateway = await startTestGateway(withDir, { load: () => ({ ok: true, config: next }) });
  t.teardown(() => gateway.shutdown());
  const reloadWith = (opts: Record<string, unknown>) => {
    const c = configFor(origin.url, values(opts));
    next = { ...c, listen: withDir.listen, admin: withDir.admin, plugins: c.plugins.map((p) => ({ ...p, configDir: dir })) };
    return gateway.reload();
  };
  return { origin, gateway, reloadWith };
}

t.test('a plugin from a module of its own refuses a write with its own error code: nothing reaches the origin; other writes pass', async (t) => {
  const dir = pluginDir(t, true);
  const { origin, gateway } = await gatewayWith(t, dir, { limit: 10 });
  const refused = await request(`${gateway.url}/big.bin`, { method: 'PUT', headers: { 'content-length': '11' } }, 'x'.repeat(11));
  t.equal(refused.status, 413);
  t.match(JSON.parse(refused.body.toString()), { error: 'over_size_cap', limit: 10 }, "the plugin's own error and members");
  t.equal(origin.stats.bodyBytes, 0, 'no byte reached the origin');
  const line = gateway.logLines.find((l) => l.msg === 'access' && l.path === '/big.bin');
  t.match(line, { decision: 'reject', reason: 'over_size_cap', constraint: 'size-cap' }, 'the access line names the constraint and its reason');
  const fits = await request(`${gateway.url}/small.bin`, { method: 'PUT', headers: { 'content-length': '5' } }, 'hello');
  t.equal(fits.status, 201, 'a write the plugin allows is stored');
  t.equal(origin.stats.bodyBytes, 5);
});

t.test('a reload gives a plugin with reload() its new options (same instance); one without it is closed and started anew', async (t) => {
  for (const withReload of [true, false]) {
    const dir = pluginDir(t, withReload);
    const { gateway, reloadWith } = await gatewayWith(t, dir, { limit: 10 });
    const reloaded = await reloadWith({ limit: 1000 });
    t.ok(reloaded.ok, `reloaded: ${JSON.stringify(reloaded)}`);
    const put = await request(`${gateway.url}/mid.bin`, { method: 'PUT', headers: { 'content-length': '50' } }, 'y'.repeat(50));
    t.equal(put.status, 201, `the next write is judged with the new limit (${withReload ? 'reload' : 'restart'})`);
    t.same(await events(dir), withReload ? ['start 10', 'reload 1000'] : ['start 10', 'start 1000', 'close'], 'what the plugin saw');
    const refused = await reloadWith({ limit: 5, label: 'bad' });
    t.same(refused, { ok: false, generation: 2, problems: ['plugins[0].options.label: "bad" is not a label'] }, "a reload the plugin's check refuses changes nothing");
    const still = await request(`${gateway.url}/mid2.bin`, { method: 'PUT', headers: { 'content-length': '50' } }, 'y'.repeat(50));
    t.equal(still.status, 201, 'the running options stay');
  }
});

t.test("a plugin's admin routes are under /plugins/<name>/, behind admin.token", async (t) => {
  const dir = pluginDir(t, true);
  const { gateway } = await gatewayWith(t, dir, { limit: 7 }, { admin: { host: '127.0.0.1', port: 0, token: 'sekret-admin-token' } });
  const admin = `http://127.0.0.1:${gateway.adminAddress.port}`;
  t.equal((await request(`${admin}/plugins/size-cap/`)).status, 401, 'no token: 401');
  const ok = await request(`${admin}/plugins/size-cap/`, { headers: { authorization: 'Bearer sekret-admin-token' } });
  t.same(JSON.parse(ok.body.toString()), { limit: 7, volumes: 1 });
  t.equal((await request(`${admin}/plugins/other/`, { headers: { authorization: 'Bearer sekret-admin-token' } })).status, 404);
});

t.test('bad plugin entries and options: one line each, naming the key', async (t) => {
  const dir = pluginDir(t, true);
  const entries = (plugins: unknown[]) => {
    const loaded = loadGatewayConfig({ file: null, env: {}, values: { origins: [{ name: 'o', url: 'http://127.0.0.1:9' }], routes: [{ origin: 'o' }], plugins } });
    if (!loaded.ok) return loaded.problems;
    return loaded.config.plugins.map((p) => ({ ...p, configDir: dir }));
  };
  const problems = async (plugins: unknown[]) => {
    const read = entries(plugins);
    if (!Array.isArray(read) || typeof read[0] === 'string') return read as string[];
    const resolved = await resolvePlugins(read as never);
    return resolved.ok ? [] : resolved.problems;
  };
  t.same(await problems([{ options: {} }]), ['plugins[0].name: missing; name a first-party plugin (tenant-quota, decide), or give module: the file or package that exports one']);
  t.match(await problems([{ name: 'nope' }]), [/^plugins\[0\]\.name: no plugin named "nope" in this version \(first-party: tenant-quota, decide\)/]);
  t.match(await problems([{ module: './missing.mjs' }]), [/^plugins\[0\]\.module: no file or package "\.\/missing\.mjs"/]);
  t.same(await problems([{ module: './size-cap.mjs', options: { limit: 'lots' } }]), ['plugins[0].options.limit: must be a positive integer']);
  t.same(await problems([{ module: './size-cap.mjs', options: {} }]), ['plugins[0].options.limit: missing; this key is required']);
  t.same(await problems([{ module: './size-cap.mjs', options: { limit: 1, colour: 'red' } }]), ['plugins[0].options.colour: unknown key']);
  t.same(await problems([{ module: './size-cap.mjs', options: { limit: 1 } }, { module: './size-cap.mjs', options: { limit: 2 } }]), ['plugins[1].name: the plugin "size-cap" is already listed as plugins[0]; list each plugin once']);
  writeFileSync(path.join(dir, 'not-a-plugin.mjs'), 'export default 42;\n');
  t.match(await problems([{ module: './not-a-plugin.mjs' }]), [/does not export a plugin as its default export/]);
  writeFileSync(path.join(dir, 'broken.mjs'), 'export default {;\n');
  t.match(await problems([{ module: './broken.mjs' }]), [/^plugins\[0\]\.module: "\.\/broken\.mjs" could not be loaded: /]);
});

t.test('check-config loads the plugin to judge its options, relative to the configuration file', async (t) => {
  const dir = pluginDir(t, true);
  const file = path.join(dir, 'headroom.yaml');
  const write = (options: string) =>
    writeFileSync(file, `origins: [{ name: o, url: "http://127.0.0.1:9" }]\nroutes: [{ origin: o }]\nplugins:\n  - module: ./size-cap.mjs\n    options: ${options}\n`);
  write('{ limit: 5 }');
  t.match((await run(process.execPath, [CLI, 'check-config', file])).stdout, /a valid gateway configuration/);
  write('{ limit: -1 }');
  const failed = await run(process.execPath, [CLI, 'check-config', file]).then(() => null, (err: { code: number; stderr: string }) => err);
  t.equal(failed?.code, 1);
  t.equal(failed?.stderr, 'plugins[0].options.limit: must be a positive integer, got -1\n');
});

t.test('check(): a request another proxy describes is routed and judged, and holds its room until its ticket ends', async (t) => {
  const dir = pluginDir(t, true);
  const { gateway, origin } = await gatewayWith(t, dir, { limit: 10 });
  const read = await gateway.check({ method: 'GET', target: '/a.txt', host: 'files.example', headers: {} });
  t.ok(read.allowed, 'a read is allowed');
  if (read.allowed) read.ticket.end();
  const over = await gateway.check({ method: 'PUT', target: '/big.bin', host: 'files.example', headers: { 'content-length': '11' } });
  t.notOk(over.allowed, "refused by the plugin's constraint");
  if (!over.allowed) t.equal(over.problem.error, 'over_size_cap');
  const bad = await gateway.check({ method: 'PUT', target: 'http://[::1', host: 'x', headers: {} });
  t.match(bad, { allowed: false, problem: { status: 400, error: 'bad_request_target' } }, 'a target that does not parse: 400');
  t.equal(origin.stats.requests, 0, 'nothing was forwarded');
  const line = gateway.logLines.find((l) => l.msg === 'access' && l.path === '/big.bin');
  t.match(line, { status: 413, reason: 'over_size_cap' }, 'a check is logged as a request is');
});
