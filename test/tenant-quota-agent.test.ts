import t, { type Test } from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { agentFor } from './helpers/agent.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { request, until, type Reply } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';
import type { RunningGateway } from './helpers/gateway.js';
import { countingRelay } from './helpers/tcp-relay.js';
import { tenantConfigDir, tenantGateway } from './helpers/tenant-quota.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// Tenant quotas in the gateway shape: the gateway cannot see the origin's
// files, so each tenant's usage comes from `headroom agent` on the origin's
// host (GET /v1/usage). First with a real agent beside Apache on a tmpfs,
// then with a scripted agent that lies, stalls or floods.

const MiB = 1024 * 1024;
const WWW_DATA = 33;
const QUOTAS = 'default: 10MiB\n';

const problem = (reply: Reply): Record<string, unknown> => JSON.parse(reply.body.toString()) as Record<string, unknown>;

interface TenantFigures {
  tenant: string;
  usedBytes: number;
  availableBytes: number;
  writtenSinceSnapshotBytes: number;
}

async function tenantFigures(gateway: RunningGateway, tenant: string): Promise<TenantFigures | undefined> {
  const reply = await request(`http://127.0.0.1:${gateway.adminAddress.port}/plugins/tenant-quota/`);
  return (JSON.parse(reply.body.toString()) as { tenants: TenantFigures[] }).tenants.find((f) => f.tenant === tenant);
}

/** Waits for the volume's first figures, so that only a tenant's can be unknown. */
async function volumeKnown(gateway: RunningGateway): Promise<void> {
  await until(async () => {
    const status = JSON.parse((await request(`http://127.0.0.1:${gateway.adminAddress.port}/status`)).body.toString()) as { origins: Array<{ volumes: Array<{ fresh: boolean }> }> };
    return status.origins[0]!.volumes.every((v) => v.fresh);
  }, 'the volume’s first figures');
}

withTmpfs(t, 'a real agent beside Apache: a at 9.5 of 10 MiB gets 507 storage_quota_exceeded with 0 bytes at Apache, b is admitted; once a deletes a file, its next write fits when the agent’s next report shows it', async (t) => {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const volume = mountTmpfs(t, `size=16m,uid=${WWW_DATA},gid=${WWW_DATA}`);
  for (const tenant of ['a', 'b']) {
    mkdirSync(path.join(volume, tenant));
    chownSync(path.join(volume, tenant), WWW_DATA, WWW_DATA);
  }
  writeFileSync(path.join(volume, 'a', 'stored.bin'), Buffer.alloc(9.5 * MiB));
  chownSync(path.join(volume, 'a', 'stored.bin'), WWW_DATA, WWW_DATA);
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  const relay = await countingRelay(apache.port);
  t.teardown(() => relay.close());
  // The origin host's agent: the volume, and a directory per tenant on it.
  const agent = await agentFor(t, [volume], 'agent-token', { roots: [volume], interval: '100ms' });
  const config = tenantConfigDir(t, QUOTAS);
  const { gateway } = await tenantGateway(
    t,
    relay.url,
    config.dir,
    { tenant: { from: 'path', path: '/{tenant}/' }, quotas: 'quotas.yaml', usage: { source: 'agent', root: volume, interval: '100ms', staleAfter: '5s', agent: { url: agent.url, token: 'agent-token' } } },
    {
      origins: [{ name: 'dav', url: relay.url, headroom: { agent: { url: agent.url, token: 'agent-token', interval: '100ms' } } }],
      routes: [{ origin: 'dav', volume }],
      policy: { reserve: '0', onUnknown: 'reject' },
    },
  );
  const put = (target: string, bytes: number): Promise<Reply> =>
    request(`${gateway.url}${target}`, { method: 'PUT', headers: { 'content-length': String(bytes) } }, Buffer.alloc(bytes, 1));
  await volumeKnown(gateway);
  await until(async () => (await tenantFigures(gateway, 'a'))?.usedBytes === 9.5 * MiB, 'the agent’s figures for a');

  const before = relay.bytesToTarget();
  const refused = await put('/a/one.bin', MiB);
  t.equal(refused.status, 507);
  t.match(problem(refused), { error: 'storage_quota_exceeded', tenant: 'a', requested: MiB, quota_used: 9.5 * MiB, quota_total: 10 * MiB, quota_available: 0.5 * MiB });
  t.equal(relay.bytesToTarget(), before, 'Apache received 0 bytes');
  t.equal((await put('/b/one.bin', MiB)).status, 201, 'tenant b, on the same volume, is admitted and stored');
  await until(async () => (await tenantFigures(gateway, 'b'))?.usedBytes === MiB, 'the agent to report b’s new file');

  t.equal((await request(`${gateway.url}/a/stored.bin`, { method: 'DELETE' })).status, 204, 'a deletes its file (DELETE is never refused)');
  await until(async () => (await tenantFigures(gateway, 'a'))?.usedBytes === 0, 'the agent’s next report of a');
  t.equal((await put('/a/one.bin', MiB)).status, 201, 'a’s next write fits');
});

/** An agent whose `/v1/usage` answers the test scripts: `answer` runs for each poll. */
async function scriptedAgent(t: Test, answer: (res: http.ServerResponse) => void): Promise<{ url: string; polls: () => number; script: (next: (res: http.ServerResponse) => void) => void }> {
  let polls = 0;
  let current = answer;
  const server = http.createServer((req, res) => {
    if (req.url !== '/v1/usage') return res.writeHead(404).end();
    polls++;
    current(res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, polls: () => polls, script: (next) => (current = next) };
}

const ROOT = '/srv/dav';
const json = (body: unknown) => (res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
/** An honest answer: each tenant's bytes, measured at `measuredAt` (now unless given). */
const report = (tenants: Record<string, number>, measuredAt?: string) => () => {
  const time = new Date().toISOString();
  return {
    host: 'store-1',
    time,
    roots: [{ root: ROOT, listedAt: measuredAt ?? time, error: null, directories: Object.entries(tenants).map(([name, bytes]) => ({ name, path: `${ROOT}/${name}`, bytes, files: 1, measuredAt: measuredAt ?? time, error: null })) }],
  };
};
const answering = (body: () => unknown) => (res: http.ServerResponse) => json(body())(res);

/** A gateway whose tenant-quota plugin asks `agentUrl`; writes whose tenant has no fresh figures get 503. */
async function gatewayAsking(t: Test, agentUrl: string, agent: Record<string, unknown> = {}) {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  for (const tenant of ['a', 'b', 't1']) mkdirSync(path.join(origin.root, tenant));
  const config = tenantConfigDir(t, QUOTAS);
  const { gateway, reload } = await tenantGateway(
    t,
    origin.url,
    config.dir,
    { tenant: { from: 'path', path: '/{tenant}/' }, quotas: 'quotas.yaml', usage: { source: 'agent', root: ROOT, interval: '50ms', staleAfter: '600ms', agent: { url: agentUrl, timeout: '300ms', ...agent } } },
    // The volume measured where it is (so only the tenant's figures can be unknown).
    { origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [origin.root], interval: '100ms' } } }], routes: [{ origin: 'files' }], policy: { reserve: '0', onUnknown: 'reject' } },
  );
  await volumeKnown(gateway);
  const put = (target: string, bytes: number): Promise<Reply> =>
    request(`${gateway.url}${target}`, { method: 'PUT', headers: { 'content-length': String(bytes) } }, Buffer.alloc(bytes, 1));
  const warnings = () => gateway.logLines.filter((l) => l.msg === 'tenant usage poll failed; nothing from it is used').map((l) => String(l.error));
  return { gateway, origin, config, reload, put, warnings };
}

t.test('bytes written while the agent’s walk was under way are not missed: a figure from a walk that started before a write does not show it', async (t) => {
  const agent = await scriptedAgent(t, answering(report({ b: 0 })));
  const { gateway, put } = await gatewayAsking(t, agent.url);
  await until(async () => (await tenantFigures(gateway, 'b'))?.usedBytes === 0, 'b’s first figures');
  // The agent's walk starts now and is slow: its figures (0 bytes) are dated from before the write.
  const walkStarted = new Date().toISOString();
  agent.script(answering(report({ b: 0 }, walkStarted)));
  t.equal((await put('/b/big.bin', 9.5 * MiB)).status, 201, '9.5 MiB of b’s 10 MiB written through the gateway');
  const polls = agent.polls();
  await until(() => agent.polls() >= polls + 4, 'several answers carrying the walk that began before the write');
  const refused = await put('/b/more.bin', MiB);
  t.equal(refused.status, 507, 'the 9.5 MiB still count: 1 MiB does not fit');
  t.match(problem(refused), { error: 'storage_quota_exceeded', tenant: 'b', quota_available: 0.5 * MiB });
  // A later walk shows the file: the figures come from the disk now, and the write stops counting on its own.
  agent.script(answering(report({ b: 9.5 * MiB })));
  await until(async () => {
    const f = await tenantFigures(gateway, 'b');
    return f?.usedBytes === 9.5 * MiB && f.writtenSinceSnapshotBytes === 0;
  }, 'a walk that started after the write');
  t.equal((await put('/b/more.bin', MiB)).status, 507, 'still full: the bytes are counted once, from the disk');
  t.equal((await put('/b/small.bin', 0.25 * MiB)).status, 201, 'what is left is offered');
});

t.test('a quota file edited and reloaded applies with the agent’s next figures', async (t) => {
  const agent = await scriptedAgent(t, answering(report({ b: 9.5 * MiB })));
  const { gateway, config, reload, put } = await gatewayAsking(t, agent.url);
  t.equal((await put('/b/one.bin', MiB)).status, 507, 'refused at 10 MiB');
  config.writeQuotas('default: 12MiB\n');
  t.ok((await reload()).ok, 'reloaded');
  await until(async () => (await tenantFigures(gateway, 'b'))?.availableBytes === 2.5 * MiB, 'b’s next figures, with the new quota');
  t.equal((await put('/b/one.bin', MiB)).status, 201, 'admitted at 12 MiB');
});

t.test('a hostile or broken agent: garbage figures, a missing tenant, a huge answer, a slow one — no figures are taken, and the tenant’s writes get policy.onUnknown (here 503 storage_unknown)', async (t) => {
  t.test('garbage figures: the whole answer is refused', async (t) => {
    const agent = await scriptedAgent(t, json({ time: new Date().toISOString(), roots: [{ root: ROOT, directories: [{ name: 'a', bytes: -5, files: 1, measuredAt: new Date().toISOString() }, { name: 'b', bytes: 0, files: 0, measuredAt: new Date().toISOString() }] }] }));
    const { gateway, put, origin, warnings } = await gatewayAsking(t, agent.url);
    const refused = await put('/b/x.bin', 1);
    t.equal(refused.status, 503, 'b’s figure was fine, but nothing of a bad answer is used');
    t.match(problem(refused), { error: 'storage_unknown', tenant: 'b', detail: /tenant "b"/ });
    t.equal(origin.stats.requests, 0, 'the origin saw nothing');
    t.match(warnings(), [/bad answer: roots\[0\]\.directories\[0\]\.bytes: expected a non-negative integer, got -5/], 'logged once, with why');
    await until(() => agent.polls() >= 4, 'more polls');
    t.equal(warnings().length, 1, 'a lasting problem is logged once');
    t.equal(await tenantFigures(gateway, 'b'), undefined, 'no figures');
  });

  t.test('a tenant the agent does not report has no figures; the others are judged by theirs', async (t) => {
    const agent = await scriptedAgent(t, answering(report({ b: 0 })));
    const { put } = await gatewayAsking(t, agent.url);
    const missing = await put('/a/x.bin', 1);
    t.equal(missing.status, 503);
    t.match(problem(missing), { error: 'storage_unknown', tenant: 'a' });
    t.equal((await put('/b/x.bin', 1)).status, 201, 'b is reported');
    t.equal((await put('/b/y.bin', 10 * MiB)).status, 507, 'and judged by its quota');
  });

  t.test('an answer larger than usage.agent.maxAnswerSize is refused, not read whole', async (t) => {
    const big = report(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`t${i}`, i])));
    const agent = await scriptedAgent(t, answering(big));
    const { put, warnings } = await gatewayAsking(t, agent.url, { maxAnswerSize: '64KiB' });
    t.equal((await put('/t1/x.bin', 1)).status, 503);
    t.match(warnings(), [/^answer larger than 65536 bytes$/]);
  });

  t.test('an agent that never finishes its answer: the poll times out', async (t) => {
    const agent = await scriptedAgent(t, (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"time": "');
    });
    const { put, warnings } = await gatewayAsking(t, agent.url);
    t.equal((await put('/a/x.bin', 1)).status, 503);
    t.match(warnings(), [/^no answer within 300 ms$/]);
    // It recovers: the next answer's figures (a walk after the measurement began) are used.
    agent.script(answering(report({ a: 0 })));
    await until(async () => (await put('/a/x.bin', 1)).status === 201, 'a good answer');
  });

  t.test('figures that stop coming go stale: after usage.staleAfter the tenant’s writes get policy.onUnknown', async (t) => {
    const agent = await scriptedAgent(t, answering(report({ a: 0 })));
    const { put, warnings } = await gatewayAsking(t, agent.url);
    const fresh = await put('/a/x.bin', 1);
    t.equal(fresh.status, 201, 'fresh figures', { body: fresh.body.toString() });
    agent.script((res) => res.writeHead(500).end());
    await until(async () => (await put('/a/y.bin', 1)).status === 503, 'the figures to go stale');
    t.match(warnings(), [/^HTTP 500$/]);
  });
});
