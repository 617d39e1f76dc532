import t, { type Test } from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { request, type Reply } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/origin.js';
import { tenantConfigDir, tenantGateway } from './helpers/tenant-quota.js';

// Each way of telling a write's tenant, against a real gateway and a
// file-storing origin: alice's quota (1 KiB) refuses a 2 KiB write, bob's
// (the default, 1 MiB) takes it — so a 507 naming alice shows she was told.

const QUOTAS = 'default: 1MiB\ntenants:\n  alice: 1KiB\n';
const body = Buffer.alloc(2048, 7);

async function setup(t: Test, options: Record<string, unknown>, values: Record<string, unknown> = {}, prefix = '') {
  const origin: TestOrigin = await startTestOrigin();
  t.teardown(() => origin.close());
  const root = path.join(origin.root, prefix);
  for (const tenant of ['alice', 'bob']) mkdirSync(path.join(root, tenant), { recursive: true });
  const config = tenantConfigDir(t, QUOTAS);
  const { gateway } = await tenantGateway(t, origin.url, config.dir, { quotas: 'quotas.yaml', usage: { root }, ...options }, values);
  const put = (target: string, headers: Record<string, string> = {}, localAddress?: string): Promise<Reply> =>
    request(`${gateway.url}${target}`, { method: 'PUT', headers: { 'content-length': String(body.length), ...headers }, ...(localAddress ? { localAddress } : {}) }, body);
  return { origin, config, put };
}

const problem = (reply: Reply): Record<string, unknown> => JSON.parse(reply.body.toString()) as Record<string, unknown>;

t.test('path segment: /dav/{tenant}/ names the tenant; a write outside it is refused (403 tenant_unknown), or passes with unknownTenant: pass', async (t) => {
  const { origin, put } = await setup(t, { tenant: { from: 'path', path: '/dav/{tenant}/' } }, {}, 'dav');
  const refused = await put('/dav/alice/a.bin');
  t.equal(refused.status, 507);
  t.match(problem(refused), { error: 'storage_quota_exceeded', tenant: 'alice', requested: 2048, quota_total: 1024, quota_used: 0, quota_available: 1024, suggested_action: /delete some files or ask for a larger quota/i });
  t.equal((await put('/dav/bob/b.bin')).status, 201, 'bob is within his quota');
  const requests = origin.stats.requests;
  const outside = await put('/elsewhere.bin');
  t.equal(outside.status, 403);
  t.match(problem(outside), { error: 'tenant_unknown', detail: /not under \/dav\/\{tenant\}\//, suggested_action: String });
  t.equal(origin.stats.requests, requests, 'a refused write never reaches the origin');
  t.equal((await request(`${(await setupPass(t)).url}/elsewhere.bin`, { method: 'PUT', headers: { 'content-length': '1' } }, 'x')).status, 201, 'unknownTenant: pass lets it through unjudged');
  t.equal((await request(`${origin.url.replace(/\/$/, '')}/dav/bob/b.bin`)).status, 200);
});

/** A gateway where writes of no tenant pass. */
async function setupPass(t: Test) {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const config = tenantConfigDir(t, QUOTAS);
  const { gateway } = await tenantGateway(t, origin.url, config.dir, { quotas: 'quotas.yaml', usage: { root: origin.root }, tenant: { from: 'path', path: '/dav/{tenant}/' }, unknownTenant: 'pass' });
  return gateway;
}

t.test('header: believed from a peer in trustedProxies, ignored from any other (then the write has no tenant and is refused)', async (t) => {
  const { put } = await setup(t, { tenant: { from: 'header', header: 'X-Remote-User' } }, { trustedProxies: ['127.0.0.2'] });
  const trusted = await put('/alice/a.bin', { 'x-remote-user': 'alice' }, '127.0.0.2');
  t.equal(trusted.status, 507, 'from the trusted proxy the header names alice');
  t.match(problem(trusted), { error: 'storage_quota_exceeded', tenant: 'alice' });
  t.equal((await put('/bob/b.bin', { 'x-remote-user': 'bob' }, '127.0.0.2')).status, 201);
  const untrusted = await put('/bob/c.bin', { 'x-remote-user': 'bob' }, '127.0.0.1');
  t.equal(untrusted.status, 403, 'from an untrusted peer the header is ignored');
  t.match(problem(untrusted), { error: 'tenant_unknown', detail: /X-Remote-User header came from a trusted proxy/ });
  t.equal((await put('/bob/d.bin', {}, '127.0.0.2')).status, 403, 'no header from the trusted proxy: no tenant');
});

t.test('Basic: the user name of the credentials names the tenant', async (t) => {
  const { put } = await setup(t, { tenant: { from: 'basic' } });
  const basic = (user: string) => ({ authorization: `Basic ${Buffer.from(`${user}:secret`).toString('base64')}` });
  const refused = await put('/alice/a.bin', basic('alice'));
  t.equal(refused.status, 507);
  t.match(problem(refused), { tenant: 'alice' });
  t.equal((await put('/bob/b.bin', basic('bob'))).status, 201);
  t.match(problem(await put('/bob/c.bin')), { error: 'tenant_unknown', detail: /no Basic credentials/ });
});

t.test('JWT: a verified claim names the tenant; a bad signature or an expired token is 401 invalid_token, never a guess', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const other = await generateKeyPair('ES256');
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  for (const tenant of ['alice', 'bob']) mkdirSync(path.join(origin.root, tenant));
  const config = tenantConfigDir(t, QUOTAS);
  writeFileSync(path.join(config.dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
  const { gateway } = await tenantGateway(t, origin.url, config.dir, { quotas: 'quotas.yaml', usage: { root: origin.root }, tenant: { from: 'jwt', jwt: { jwks: 'jwks.json', claim: 'tenant', issuer: 'https://id.example', audience: '' } } });
  const token = (tenant: string, { key = privateKey, expires = '5m' as string | number } = {}) =>
    new SignJWT({ tenant }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('https://id.example').setIssuedAt().setExpirationTime(expires).sign(key);
  const put = async (target: string, bearer?: string) =>
    request(`${gateway.url}${target}`, { method: 'PUT', headers: { 'content-length': String(body.length), ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) } }, body);

  const refused = await put('/alice/a.bin', await token('alice'));
  t.equal(refused.status, 507, 'a good token naming alice');
  t.match(problem(refused), { error: 'storage_quota_exceeded', tenant: 'alice' });
  t.equal((await put('/bob/b.bin', await token('bob'))).status, 201, 'a good token naming bob');

  const requests = origin.stats.requests;
  const forged = await put('/bob/c.bin', await token('bob', { key: other.privateKey }));
  t.equal(forged.status, 401, 'a token signed by another key');
  t.match(problem(forged), { error: 'invalid_token', detail: /signature verification failed/ });
  const expired = await put('/bob/d.bin', await token('bob', { expires: Math.floor(Date.now() / 1000) - 60 }));
  t.equal(expired.status, 401, 'an expired token');
  t.match(problem(expired), { error: 'invalid_token', detail: /"exp" claim timestamp check failed/ });
  t.equal(origin.stats.requests, requests, 'neither reached the origin');
  t.match(problem(await put('/bob/e.bin')), { error: 'tenant_unknown', detail: /no bearer token/ }, 'no token: no tenant');
  t.equal((await request(`${gateway.url}/bob/b.bin`)).status, 200, 'reads need no token (only writes are judged)');
});
