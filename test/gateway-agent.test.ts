import t, { type Test } from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { request, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';
import { agentFor } from './helpers/agent.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { countingRelay } from './helpers/tcp-relay.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

const MiB = 1024 * 1024;
const VOLUME = '/srv/dav';

const good = (availableMiB: number) =>
  JSON.stringify({
    host: 'store-1',
    time: new Date().toISOString(),
    volumes: [{ mount: VOLUME, filesystem: '/dev/sdb1', totalBytes: 16 * MiB, freeBytes: Math.round(availableMiB * MiB), availableBytes: Math.round(availableMiB * MiB), totalInodes: 100_000, freeInodes: 90_000 }],
  });

/** An agent whose answers the test scripts: `answer` runs for each request. */
async function scriptedAgent(t: Test): Promise<{ url: string; answer: (req: http.IncomingMessage, res: http.ServerResponse) => void; polls: () => number }> {
  let polls = 0;
  const state = {
    answer: (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(good(10));
    },
  };
  const server = http.createServer((req, res) => {
    polls++;
    state.answer(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, polls: () => polls });
}

async function behindAgent(t: Test, agentUrl: string, policy: Record<string, unknown> = {}): Promise<RunningGateway> {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  return gatewayFor(t, origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { agent: { url: agentUrl, interval: '100ms', timeout: '300ms' } } }],
    routes: [{ origin: 'files', volume: VOLUME }],
    policy: { reserve: '1MiB', staleAfter: '600ms', ...policy },
  });
}

async function status(gateway: RunningGateway): Promise<{ origins: Array<{ name: string; lastAgentError: string | null; volumes: Array<Record<string, unknown>> }> }> {
  return JSON.parse((await request(`http://127.0.0.1:${gateway.adminAddress.port}/status`)).body.toString());
}

const put = (gateway: RunningGateway, bytes: number) =>
  request(`${gateway.url}/f-${Math.random()}.bin`, { method: 'PUT', headers: { 'content-length': String(bytes) } }, Buffer.alloc(bytes));

t.test('bad agent answers never crash the gateway; each shows in /status as the last error', async (t) => {
  const agent = await scriptedAgent(t);
  const gateway = await behindAgent(t, agent.url);
  await until(async () => (await status(gateway)).origins[0]!.volumes.length === 1, 'the first good answer');

  const json = (body: string, status = 200, type = 'application/json') => (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  };
  const volume = (fields: Record<string, unknown>) => JSON.stringify({ volumes: [{ mount: VOLUME, totalBytes: 100, freeBytes: 10, availableBytes: 10, totalInodes: 10, freeInodes: 5, ...fields }] });
  const cases: Array<[string, (req: http.IncomingMessage, res: http.ServerResponse) => void, RegExp]> = [
    ['not JSON', json('hello'), /not JSON/],
    ['empty', json(''), /empty answer/],
    ['HTML', json('<html><body>proxy error</body></html>', 200, 'text/html'), /not JSON: "<html/],
    ['no volumes list', json('{"disks": []}'), /"volumes" list/],
    ['wrong types', json(volume({ totalBytes: '100' })), /totalBytes: expected a non-negative integer, got "100"/],
    ['negative numbers', json(volume({ freeInodes: -1 })), /freeInodes: expected a non-negative integer, got -1/],
    ['available > total', json(volume({ availableBytes: 101 })), /availableBytes 101 > totalBytes 100/],
    ['fractional bytes', json(volume({ availableBytes: 1.5 })), /availableBytes: expected a non-negative integer/],
    ['available > free', json(volume({ freeBytes: 5 })), /availableBytes 10 > freeBytes 5/],
    ['free inodes > total', json(volume({ freeInodes: 11 })), /freeInodes 11 > totalInodes 10/],
    ['a mount twice', json(JSON.stringify({ volumes: [...JSON.parse(volume({})).volumes, ...JSON.parse(volume({})).volumes] })), /volumes\[1\]\.mount: "\/srv\/dav" is already volumes\[0\]/],
    ['a time from 2001', json(JSON.stringify({ time: '2001-09-09T01:46:40.000Z', ...JSON.parse(volume({})) })), /time 2001-09-09T01:46:40.000Z is [\d.]+ s behind the gateway's clock \(maxClockSkew 30 s\)/],
    ['a time that is no date', json(JSON.stringify({ time: 'yesterday', ...JSON.parse(volume({})) })), /time: expected an ISO 8601 date, got "yesterday"/],
    ['a 5 MiB body', json(JSON.stringify({ volumes: [], pad: 'x'.repeat(5 * MiB) })), /larger than 1048576 bytes/],
    ['HTTP 500', json('{"error":"boom"}', 500), /HTTP 500/],
    ['slower than the timeout', () => undefined, /no answer within 300 ms/],
    ['connection reset', (req) => req.socket.destroy(), /ECONNRESET|socket hang up/],
  ];
  for (const [name, answer, error] of cases) {
    agent.answer = answer;
    await until(async () => error.test((await status(gateway)).origins[0]!.lastAgentError ?? ''), `/status to show the error for ${name}`, 3000);
    t.pass(`${name}: shown as ${(await status(gateway)).origins[0]!.lastAgentError}`);
    t.equal((await request(`${gateway.url}/`, { method: 'OPTIONS' })).status, 200, `${name}: the gateway still serves`);
  }
});

t.test('agent gone: after staleAfter the volume is unknown and onUnknown applies; a flood block stays', async (t) => {
  for (const onUnknown of ['admit', 'reject'] as const) {
    const agent = await scriptedAgent(t);
    const gateway = await behindAgent(t, agent.url, { onUnknown });
    await until(async () => (await status(gateway)).origins[0]!.volumes[0]?.fresh === true, 'a fresh snapshot');
    t.equal((await put(gateway, 10 * MiB)).status, 507, `${onUnknown}: while fresh, 10 MiB does not fit in the 9 MiB usable`);
    agent.answer = (req) => req.socket.destroy();
    await until(async () => (await status(gateway)).origins[0]!.volumes[0]?.fresh === false, 'the snapshot to go stale', 3000);
    const reply = await put(gateway, 1 * MiB);
    if (onUnknown === 'admit') {
      t.equal(reply.status, 201, 'admit: the write goes through');
      await until(() => gateway.logLines.some((l) => l.decision === 'admit_unknown' && l.reason === 'stale'), 'the access line');
      t.pass('traced as admit_unknown');
    } else {
      t.equal(reply.status, 503, 'reject: 503');
      t.equal(reply.headers['retry-after'], '60');
      t.match(JSON.parse(reply.body.toString()), { error: 'storage_unknown' });
    }
  }

  const agent = await scriptedAgent(t);
  agent.answer = (_req, res) => res.end(good(0.1)); // 99.4% used: flood stage
  const gateway = await behindAgent(t, agent.url);
  await until(async () => (await status(gateway)).origins[0]!.volumes[0]?.flood === true, 'flood stage');
  agent.answer = (req) => req.socket.destroy();
  await until(async () => (await status(gateway)).origins[0]!.volumes[0]?.fresh === false, 'the snapshot to go stale', 3000);
  const zero = await put(gateway, 0);
  t.equal(zero.status, 507, 'a volume in flood stage stays refused while the agent is away');
  t.equal(JSON.parse(zero.body.toString()).error, 'storage_flood_stage');
  agent.answer = (_req, res) => res.end(good(10));
  await until(async () => (await status(gateway)).origins[0]!.volumes[0]?.flood === false, 'fresh data showing room to lift it');
  const after = await put(gateway, 0);
  t.equal(after.status, 201, after.body.toString());
});

withTmpfs(t, 'gateway + agent + Apache on tmpfs: a disk filled behind the gateway’s back is refused within one poll', async (t) => {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  const relay = await countingRelay(apache.port);
  t.teardown(() => relay.close());
  const agent = await agentFor(t, [volume], 'agent-token');
  const gateway = await gatewayFor(t, relay.url, {
    origins: [{ name: 'dav', url: relay.url, headroom: { agent: { url: agent.url, token: 'agent-token', interval: '500ms', timeout: '500ms' } } }],
    routes: [{ origin: 'dav', volume }],
    policy: { reserve: '1MiB' },
  });
  await until(() => gateway.registry.get('dav', volume)?.snapshot != null, 'the first snapshot from the agent');
  t.equal((await put(gateway, 4 * MiB)).status, 201, 'before: 4 MiB fits');

  execFileSync('dd', ['if=/dev/zero', `of=${volume}/filler`, 'bs=1M', 'count=8', 'status=none']);
  const filledAt = Date.now();
  await until(async () => (await put(gateway, 4 * MiB)).status === 507 || false, 'the refusal', 5000);
  const took = Date.now() - filledAt;
  t.ok(took <= 1000 + 200, `refused ${took} ms after the fill (interval 500 ms + timeout 500 ms)`);
  const relayed = relay.bytesToTarget();
  const refused = await put(gateway, 4 * MiB);
  t.equal(refused.status, 507);
  t.equal(relay.bytesToTarget(), relayed, '0 bytes at the origin');
});
