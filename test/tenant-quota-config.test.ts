import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadGatewayConfig } from '../src/config/load.js';
import { resolvePlugins } from '../src/plugin/resolve-plugins.js';
import { request } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';
import { tenantConfigDir, tenantGateway } from './helpers/tenant-quota.js';

// The plugin as the configuration gives it: `plugins: [{ name: tenant-quota, options }]`.

t.test('bad options are reported with their key paths, plugins[0].options.<key>: …', async (t) => {
  const { dir } = tenantConfigDir(t, 'default: lots\n');
  const problems = async (options: unknown): Promise<string[]> => {
    const loaded = loadGatewayConfig({ file: null, env: {}, values: { origins: [{ name: 'o', url: 'http://127.0.0.1:9' }], routes: [{ origin: 'o' }], plugins: [{ name: 'tenant-quota', options }] } });
    if (!loaded.ok) return loaded.problems;
    const resolved = await resolvePlugins(loaded.config.plugins.map((p) => ({ ...p, configDir: dir })));
    return resolved.ok ? [] : resolved.problems;
  };
  t.same(await problems({ usage: { root: 'tenants' } }), ['plugins[0].options.quotas: missing; this key is required']);
  t.match(await problems({ quotas: 'quotas.yaml', usage: { root: 'tenants' }, tenant: { from: 'cookie' } }), [/^plugins\[0\]\.options\.tenant\.from: must be one of .*path.*header.*basic.*jwt/]);
  t.match(await problems({ quotas: 'quotas.yaml', usage: { root: 'tenants', interval: 'often' } }), [/^plugins\[0\]\.options\.usage\.interval: expected a duration above zero/]);
  t.same(await problems({ quotas: 'quotas.yaml', usage: { root: 'tenants', depth: 3 } }), ['plugins[0].options.usage.depth: unknown key']);
  t.same(await problems({ quotas: 'quotas.yaml' }), [
    'plugins[0].options.usage.root: missing; this key is required (the directory holding a directory per tenant)',
    `plugins[0].options.quotas: ${path.join(dir, 'quotas.yaml')}: default: expected a size like 10737418240 or "10GiB", not "lots"`,
  ]);
  t.match(await problems({ quotas: 'quotas.yaml', usage: { root: 'tenants' }, tenant: { from: 'jwt' } }), [/^plugins\[0\]\.options\.tenant\.jwt\.jwks: must be given for tenant\.from: jwt/, /^plugins\[0\]\.options\.quotas: /]);
  writeFileSync(path.join(dir, 'quotas.yaml'), 'default: 1GiB\n');
  t.same(await problems({ quotas: 'quotas.yaml', usage: { root: 'tenants', interval: '5s', staleAfter: '30s' }, tenant: { from: 'path', path: '/dav/{tenant}/' } }), [], 'good options, given as a configuration file gives them (durations as text, nested mappings)');
});

t.test('a broken quota file refuses the reload: the running quotas stay; the admin route lists each tenant', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  for (const tenant of ['alice', 'bob']) mkdirSync(path.join(origin.root, tenant));
  writeFileSync(path.join(origin.root, 'alice', 'old.bin'), Buffer.alloc(300));
  const config = tenantConfigDir(t, 'default: 1KiB\n');
  const { gateway, reload } = await tenantGateway(t, origin.url, config.dir, { quotas: 'quotas.yaml', usage: { root: origin.root } }, { admin: { host: '127.0.0.1', port: 0, token: 'admin-token' } });
  const put = (target: string, bytes: number) => request(`${gateway.url}${target}`, { method: 'PUT', headers: { 'content-length': String(bytes) } }, Buffer.alloc(bytes));
  t.equal((await put('/alice/a.bin', 1000)).status, 507, 'alice at 300 of 1 KiB');

  config.writeQuotas('default: 1KiB\ntenants:\n  alice: [1MiB\n');
  const refused = await reload();
  t.notOk(refused.ok, 'the reload is refused');
  t.match(!refused.ok && refused.problems, [new RegExp(`^plugins\\[0\\]\\.options\\.quotas: ${config.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/quotas\\.yaml:\\d+:\\d+: malformed`)]);
  t.equal((await put('/alice/a.bin', 1000)).status, 507, 'the running quotas stay');

  const admin = `http://127.0.0.1:${gateway.adminAddress.port}/plugins/tenant-quota/`;
  t.equal((await request(admin)).status, 401, 'behind admin.token');
  const listed = await request(admin, { headers: { authorization: 'Bearer admin-token' } });
  t.equal(listed.status, 200);
  t.equal(listed.headers['content-type'], 'application/json');
  const body = JSON.parse(listed.body.toString()) as { tenants: Array<Record<string, unknown>>; default: number };
  t.equal(body.default, 1024);
  t.match(
    body.tenants.sort((a, b) => String(a.tenant).localeCompare(String(b.tenant))),
    [
      { tenant: 'alice', totalBytes: 1024, usedBytes: 300, availableBytes: 724, reservedBytes: 0, snapshotAgeMs: Number },
      { tenant: 'bob', totalBytes: 1024, usedBytes: 0, availableBytes: 1024 },
    ],
  );
  t.equal(body.tenants.length, 2);
});

t.test('metrics by tenant: none named by default; with tenantLabels: 1 the first tenant the file lists, the rest as other', async (t) => {
  for (const tenantLabels of [0, 1]) {
    const origin = await startTestOrigin();
    t.teardown(() => origin.close());
    for (const tenant of ['alice', 'bob']) mkdirSync(path.join(origin.root, tenant));
    const config = tenantConfigDir(t, 'default: 1KiB\ntenants:\n  alice: 1KiB\n  bob: 1KiB\n');
    const { gateway } = await tenantGateway(t, origin.url, config.dir, { quotas: 'quotas.yaml', usage: { root: origin.root }, tenantLabels });
    const put = (target: string) => request(`${gateway.url}${target}`, { method: 'PUT', headers: { 'content-length': '2000' } }, Buffer.alloc(2000));
    t.equal((await put('/alice/a.bin')).status, 507);
    t.equal((await put('/bob/b.bin')).status, 507);
    const text = (await request(`http://127.0.0.1:${gateway.adminAddress.port}/metrics`)).body.toString();
    const refusals = text.split('\n').filter((l) => l.startsWith('headroom_tenant_refusals_total'));
    if (tenantLabels === 0) {
      t.same(refusals, ['headroom_tenant_refusals_total{error="storage_quota_exceeded"} 2'], 'no tenant named');
      t.notMatch(text, /headroom_tenant_used_bytes\{/, 'no per-tenant gauges');
    } else {
      t.same(refusals.sort(), ['headroom_tenant_refusals_total{error="storage_quota_exceeded",tenant="alice"} 1', 'headroom_tenant_refusals_total{error="storage_quota_exceeded",tenant="other"} 1']);
      t.match(text, /headroom_tenant_quota_bytes\{tenant="alice"\} 1024/);
      t.match(text, /headroom_tenant_quota_bytes\{tenant="other"\} 1024/);
    }
  }
});
