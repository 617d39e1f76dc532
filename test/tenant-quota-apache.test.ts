import t, { type Test } from 'tap';
import { chownSync, mkdirSync, readdirSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chunkedPut } from './helpers/upload.js';
import { request, until, type Reply } from './helpers/http.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { countingRelay } from './helpers/tcp-relay.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';
import { tenantConfigDir, tenantGateway } from './helpers/tenant-quota.js';

// Tenant quotas in the sidecar shape: Apache (mod_dav) on a real 16 MiB
// tmpfs, a directory per tenant on it, a counting relay in front of
// Apache, and the gateway measuring both the volume and each tenant.

const MiB = 1024 * 1024;
const WWW_DATA = 33;

async function stack(t: Test, quotas: string) {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const volume = mountTmpfs(t, `size=16m,uid=${WWW_DATA},gid=${WWW_DATA}`);
  for (const tenant of ['a', 'b', 'c']) {
    mkdirSync(path.join(volume, tenant));
    chownSync(path.join(volume, tenant), WWW_DATA, WWW_DATA);
  }
  // Tenant a is at 9.5 MiB of its 10 MiB before the gateway starts.
  writeFileSync(path.join(volume, 'a', 'stored.bin'), Buffer.alloc(9.5 * MiB));
  writeFileSync(path.join(volume, 'c', 'stored.bin'), Buffer.alloc(MiB));
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  const relay = await countingRelay(apache.port);
  t.teardown(() => relay.close());
  const config = tenantConfigDir(t, quotas);
  const { gateway, reload } = await tenantGateway(
    t,
    relay.url,
    config.dir,
    { tenant: { from: 'path', path: '/{tenant}/' }, quotas: 'quotas.yaml', usage: { root: volume, interval: '100ms', staleAfter: '5s' } },
    { origins: [{ name: 'dav', url: relay.url, headroom: { local: { paths: [volume], interval: '100ms' } } }], routes: [{ origin: 'dav' }], policy: { reserve: '0' } },
  );
  const put = (target: string, bytes: number): Promise<Reply> =>
    request(`${gateway.url}${target}`, { method: 'PUT', headers: { 'content-length': String(bytes) } }, Buffer.alloc(bytes, 1));
  return { volume, relay, gateway, config, reload, put };
}

const QUOTAS = 'default: 10MiB\ntenants:\n  c: 3MiB\n';
const problem = (reply: Reply): Record<string, unknown> => JSON.parse(reply.body.toString()) as Record<string, unknown>;

withTmpfs(t, 'tenant a at 9.5 of 10 MiB: a 1 MiB PUT is 507 storage_quota_exceeded and Apache gets 0 bytes; tenant b on the same volume is admitted', async (t) => {
  const { relay, put } = await stack(t, QUOTAS);
  const before = relay.bytesToTarget();
  const refused = await put('/a/one.bin', MiB);
  t.equal(refused.status, 507);
  t.equal(refused.headers['content-type'], 'application/problem+json');
  t.ok(refused.headers['retry-after'], 'Retry-After, as every 507');
  t.match(problem(refused), {
    error: 'storage_quota_exceeded',
    tenant: 'a',
    requested: MiB,
    quota_used: 9.5 * MiB,
    quota_total: 10 * MiB,
    quota_available: 0.5 * MiB,
    suggested_action: 'Delete some files or ask for a larger quota.',
  });
  t.equal(relay.bytesToTarget(), before, 'Apache received 0 bytes');
  t.equal((await put('/b/one.bin', MiB)).status, 201, 'tenant b, on the same volume, is admitted and stored by Apache');
  t.ok(relay.bytesToTarget() - before >= MiB);
});

withTmpfs(t, '16 concurrent uploads of one tenant never exceed its quota (the volume has room for more)', async (t) => {
  const { volume, relay, gateway, put } = await stack(t, QUOTAS);
  const size = MiB / 2;
  const results = await Promise.all(Array.from({ length: 16 }, (_, i) => put(`/c/u${i}.bin`, size)));
  const admitted = results.filter((r) => r.status === 201);
  const refused = results.filter((r) => r.status === 507);
  t.equal(admitted.length + refused.length, 16, 'each upload is stored or refused with 507');
  t.ok(admitted.length * size <= 3 * MiB - MiB, `${admitted.length} admitted × 512 KiB ≤ the 3 MiB quota − the 1 MiB tenant c had stored`);
  t.ok(admitted.length >= 1, 'some are admitted');
  t.ok(refused.every((r) => problem(r).error === 'storage_quota_exceeded' && problem(r).tenant === 'c'), 'the refusals are the quota’s, not the volume’s (it had 5.5 MiB free)');
  t.equal(readdirSync(path.join(volume, 'c')).filter((n) => n.startsWith('u')).length, admitted.length, 'only admitted uploads are on the volume');
  t.ok(relay.bytesToTarget() < admitted.length * size + 16 * 1024, 'refused uploads put no bytes on the origin');
  t.equal(gateway.ledger.totalReservedBytes(), 0, 'the ledger is back to 0');
});

withTmpfs(t, 'a quota file edited and reloaded applies to the next write', async (t) => {
  const { config, reload, put } = await stack(t, QUOTAS);
  t.equal((await put('/a/one.bin', MiB)).status, 507, 'refused at 10 MiB');
  config.writeQuotas('default: 10MiB\ntenants:\n  a: 12MiB\n  c: 3MiB\n');
  t.ok((await reload()).ok, 'reloaded');
  t.equal((await put('/a/one.bin', MiB)).status, 201, 'admitted at 12 MiB');
  config.writeQuotas('default: 1MiB\n');
  t.ok((await reload()).ok, 'reloaded');
  const lowered = await put('/b/two.bin', 1);
  t.equal(lowered.status, 201, 'b at 0 of 1 MiB takes 1 byte');
  const over = await put('/a/two.bin', 1);
  t.equal(over.status, 507, 'a, now at the default 1 MiB, is over');
  t.match(problem(over), { tenant: 'a', quota_total: MiB, quota_available: 0 });
});

withTmpfs(t, "a chunked upload that outgrows the tenant's quota is cut: 507 storage_quota_exceeded, no file kept, ledger at 0", async (t) => {
  const { volume, gateway } = await stack(t, QUOTAS);
  const answer = await chunkedPut(`${gateway.url}/c/grows.bin`, 4 * MiB, 256 * 1024);
  t.equal(answer.status, 507, 'tenant c had 2 MiB of its quota left, the volume 5.5 MiB');
  t.match(JSON.parse(answer.body), { error: 'storage_quota_exceeded', tenant: 'c', requested: null, quota_total: 3 * MiB });
  await until(() => !readdirSync(path.join(volume, 'c')).some((n) => n !== 'stored.bin'), 'Apache to drop its partial upload');
  t.same(readdirSync(path.join(volume, 'c')), ['stored.bin'], 'Apache kept no new file');
  await until(() => gateway.ledger.totalReservedBytes() === 0, 'the ledger to return to 0');
});

withTmpfs(t, "a PROPFIND asking for the quota properties shows the tenant's own room", async (t) => {
  const { gateway, volume } = await stack(t, QUOTAS);
  const body = '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>';
  const figures = async (target: string): Promise<Record<string, number>> => {
    const answer = await request(`${gateway.url}${target}`, { method: 'PROPFIND', headers: { depth: '0', 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) } }, body);
    t.equal(answer.status, 207, `${target}: 207`);
    const text = answer.body.toString();
    const value = (name: string): number => Number(new RegExp(`<(?:\\w+:)?${name}>(\\d+)<`).exec(text)?.[1] ?? NaN);
    return { available: value('quota-available-bytes'), used: value('quota-used-bytes') };
  };
  t.same(await figures('/a/'), { available: 0.5 * MiB, used: 9.5 * MiB }, 'tenant a: what is left of its 10 MiB, and what it uses');
  t.same(await figures('/c/'), { available: 2 * MiB, used: MiB }, 'tenant c: 3 MiB, 1 used');
  const b = await figures('/b/');
  const s = statfsSync(volume);
  t.same(b, { available: s.bavail * s.bsize, used: 0 }, 'tenant b: its quota is more than the volume has left, so the volume’s room; its own use');
});
