import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readQuotaFile } from '../plugins/tenant-quota/quota-file.js';
import { usageUnder, directoriesIn } from '../src/index.js';
import tenantQuota from '../plugins/tenant-quota/index.js';

const tempDir = (t: Test): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-tq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

t.test('a quota file: sizes as the configuration writes them, per tenant and a default; YAML or JSON', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'q.yaml'), 'default: 10GiB\ntenants:\n  alice: 512MiB\n  bob: 1048576\n');
  const yaml = await readQuotaFile(path.join(dir, 'q.yaml'));
  t.ok(yaml.ok);
  if (yaml.ok) {
    t.equal(yaml.quotas.default, 10 * 1024 ** 3);
    t.same([...yaml.quotas.tenants], [['alice', 512 * 1024 ** 2], ['bob', 1048576]]);
  }
  writeFileSync(path.join(dir, 'q.json'), '{"tenants": {"carol": "1KiB"}}');
  const json = await readQuotaFile(path.join(dir, 'q.json'));
  t.same(json.ok && { default: json.quotas.default, carol: json.quotas.tenants.get('carol') }, { default: null, carol: 1024 }, 'no default: only listed tenants have a quota');
});

t.test('a broken quota file is reported entry by entry, with the file and line', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'q.yaml');
  writeFileSync(file, 'default: lots\ntenants:\n  alice: 5 apples\n  "..": 1GiB\nextra: 1\n');
  const bad = await readQuotaFile(file);
  t.notOk(bad.ok);
  t.same(!bad.ok && bad.problems, [
    `${file}: extra: not a key of a quota file (expected "default" and "tenants")`,
    `${file}: default: expected a size like 10737418240 or "10GiB", not "lots"`,
    `${file}: tenants.alice: expected a size like 10737418240 or "10GiB", not "5 apples"`,
    `${file}: tenants...: a tenant name is one path segment (no "/", "\\", NUL, "." or "..")`,
  ]);
  writeFileSync(file, 'default: 1GiB\ntenants:\n  alice: [1\n');
  const malformed = await readQuotaFile(file);
  t.match(!malformed.ok && malformed.problems[0], new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: malformed: `));
  const missing = await readQuotaFile(path.join(dir, 'none.yaml'));
  t.match(!missing.ok && missing.problems, [/none\.yaml: cannot read the file \(ENOENT\)/]);
});

t.test("the plugin's check: a broken quota file, a bad path pattern, a missing usage root or JWKS, staleAfter not above interval", async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'q.yaml'), 'default: lots\n');
  mkdirSync(path.join(dir, 'tenants'));
  const options = {
    tenant: { from: 'path', path: '/dav/x{tenant}', header: 'X-Remote-User', jwt: { jwks: '', claim: 'sub', issuer: '', audience: '' } },
    unknownTenant: 'refuse',
    quotas: 'q.yaml',
    usage: { source: 'walk', root: 'tenants', interval: 10_000, staleAfter: 60_000, agent: { url: '', token: '', timeout: 2000, maxAnswerSize: 8 * 1024 * 1024 } },
    tenantLabels: 0,
  } as const;
  const problems = await tenantQuota.check!(options, { configDir: dir });
  t.match(problems, [/^tenant\.path: expected "\{tenant\}" as a whole path segment/, /^quotas: .*q\.yaml: default: expected a size/]);
  const more = await tenantQuota.check!({ ...options, tenant: { ...options.tenant, from: 'jwt', jwt: { ...options.tenant.jwt, jwks: 'keys.json' } }, usage: { ...options.usage, root: 'nowhere', staleAfter: 10_000 } }, { configDir: dir });
  t.match(more, [/^tenant\.jwt\.jwks: .*keys\.json: cannot read the file \(ENOENT\)/, /^usage\.staleAfter: .* must be longer than usage\.interval/, /^usage\.root: .*nowhere is not a directory/, /^quotas: /]);
  writeFileSync(path.join(dir, 'q.yaml'), 'default: 1GiB\n');
  t.same(await tenantQuota.check!({ ...options, tenant: { ...options.tenant, path: '/dav/{tenant}/' } }, { configDir: dir }), [], 'good options: no problem');
  const agent = (url: string) => tenantQuota.check!({ ...options, tenant: { ...options.tenant, path: '/dav/{tenant}/' }, usage: { ...options.usage, source: 'agent', root: '/srv/on/the/agent', agent: { ...options.usage.agent, url } } }, { configDir: dir });
  t.same(await agent('http://10.0.0.5:9100'), [], 'the agent source: its root is the agent’s, not looked for here');
  t.match(await agent(''), [/^usage\.agent\.url: missing; required for usage\.source: agent/]);
  t.match(await agent('ftp://x'), [/^usage\.agent\.url: expected an http\(s\) URL, not "ftp:\/\/x"/]);
});

t.test('usage: the bytes and count of files under a directory, walked (links not followed); a missing directory holds 0', async (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'alice', 'deep', 'er'), { recursive: true });
  writeFileSync(path.join(dir, 'alice', 'a.bin'), Buffer.alloc(1000));
  writeFileSync(path.join(dir, 'alice', 'deep', 'er', 'b.bin'), Buffer.alloc(234));
  writeFileSync(path.join(dir, 'outside.bin'), Buffer.alloc(5000));
  symlinkSync(path.join(dir, 'outside.bin'), path.join(dir, 'alice', 'link'));
  symlinkSync(dir, path.join(dir, 'alice', 'deep', 'loop'));
  t.same(await usageUnder(path.join(dir, 'alice')), { bytes: 1234, files: 2 });
  t.same(await usageUnder(path.join(dir, 'nobody')), { bytes: 0, files: 0 });
  const stop = new AbortController();
  stop.abort(new Error('stopped'));
  await t.rejects(usageUnder(path.join(dir, 'alice'), stop.signal), /stopped/, 'an aborted walk ends with the reason');
  mkdirSync(path.join(dir, 'bob'));
  t.same((await directoriesIn(dir)).sort(), ['alice', 'bob']);
  t.same(await directoriesIn(path.join(dir, 'none')), []);
});
