import t, { type Test } from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AddressInfo } from 'node:net';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { request, until } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/origin.js';

// An agent that lies in every way a buggy or hostile one could, against a
// gateway with two configured volumes: /srv/dav, nearly full (1 MiB usable
// after the 1 MiB reserve), and /srv/media. What the agent says about any
// other name, or in an answer that is not consistent, must never open the
// guard: a 4 MiB PUT to /dav/ stays 507 with 0 bytes at the origin.

const MiB = 1024 * 1024;
const DAV = '/srv/dav';
const MEDIA = '/srv/media';
const CONFIGURED = [DAV, MEDIA];

interface Mount {
  mount: string;
  availableBytes: number;
  freeBytes?: number;
}

const full = (mount: string): Mount => ({ mount, availableBytes: 2 * MiB });
const roomy = (mount: string): Mount => ({ mount, availableBytes: 15 * MiB });

function answer(mounts: readonly Mount[], time: string | null = new Date().toISOString()): string {
  const volumes = mounts.map((m) => ({ filesystem: '/dev/sdb1', totalBytes: 16 * MiB, freeBytes: m.availableBytes, totalInodes: 100_000, freeInodes: 90_000, ...m }));
  return JSON.stringify(time === null ? { host: 'store-1', volumes } : { host: 'store-1', time, volumes });
}

interface FakeAgent {
  readonly url: string;
  /** The body of the next answers, from the poll's number (1, 2, …). */
  body: (poll: number) => string;
  polls(): number;
}

/** A real agent-shaped HTTP server on loopback whose answers the test writes. */
async function fakeAgent(t: Test): Promise<FakeAgent> {
  let polls = 0;
  const server = http.createServer((_req, res) => {
    const text = agent.body(++polls);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const agent: FakeAgent = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, body: () => answer([full(DAV), roomy(MEDIA)]), polls: () => polls };
  return agent;
}

async function guarded(t: Test, agent: FakeAgent, policy: Record<string, unknown> = {}): Promise<{ gateway: RunningGateway; origin: TestOrigin }> {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  for (const dir of ['dav', 'media']) mkdirSync(path.join(origin.root, dir));
  const gateway = await gatewayFor(t, origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { agent: { url: agent.url, interval: '50ms', timeout: '1s' } } }],
    routes: [
      { match: { pathPrefix: '/dav/' }, origin: 'files', volume: DAV },
      { match: { pathPrefix: '/media/' }, origin: 'files', volume: MEDIA },
    ],
    policy: { reserve: '1MiB', ...policy },
  });
  await until(() => CONFIGURED.every((v) => gateway.registry.get('files', v)?.snapshot != null), 'the first snapshots');
  return { gateway, origin };
}

interface Status {
  origins: Array<{ lastAgentError: string | null; volumes: Array<{ volume: string; fresh: boolean; availableBytes: number | null; lastError: string | null }> }>;
}

async function status(gateway: RunningGateway): Promise<Status['origins'][number]> {
  return (JSON.parse((await request(`http://127.0.0.1:${gateway.adminAddress.port}/status`)).body.toString()) as Status).origins[0]!;
}

const put = (gateway: RunningGateway, path: string, bytes: number) =>
  request(`${gateway.url}${path}/f-${Math.random()}.bin`, { method: 'PUT', headers: { 'content-length': String(bytes) } }, Buffer.alloc(bytes));

const volumeNames = (gateway: RunningGateway): string[] => [...gateway.registry.all()].map((s) => s.volume).sort();

/** A 4 MiB write into /dav/ (1 MiB usable): refused, and not one byte of it at the origin. */
async function guardHolds(t: Test, gateway: RunningGateway, origin: TestOrigin, when: string): Promise<void> {
  const before = origin.stats.bodyBytes;
  const reply = await put(gateway, '/dav', 4 * MiB);
  t.equal(reply.status, 507, `${when}: 4 MiB into ${DAV} is refused`);
  t.equal(origin.stats.bodyBytes - before, 0, `${when}: 0 bytes at the origin`);
}

interface Memory {
  rss: number;
  heapUsed: number;
}

// A full collection before each sample, so that what is compared is what
// stays alive, not how much garbage the last polls left.
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function memory(): Memory {
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

const pollFailures = (gateway: RunningGateway) => gateway.logLines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('agent poll failed'));

t.test('(a) mounts an agent adds are ignored and never stored; a configured volume it stops reporting ages to unknown', async (t) => {
  const agent = await fakeAgent(t);
  const { gateway, origin } = await guarded(t, agent, { staleAfter: '1s', onUnknown: 'reject' });
  const extra = ['/', '/srv', '/srv/dav/', '/SRV/DAV', '/srv/dav/.', '/srv/new', '/mnt/huge'];
  agent.body = () => answer([...extra.map(roomy), full(DAV), roomy(MEDIA)]);
  const from = agent.polls();
  await until(() => agent.polls() >= from + 10, 'ten answers with added mounts');
  t.same(volumeNames(gateway), CONFIGURED, 'the registry holds the two configured volumes, none of the added ones');
  t.same((await status(gateway)).volumes.map((v) => v.volume).sort(), CONFIGURED, '/status shows only those');
  await guardHolds(t, gateway, origin, 'with added mounts');
  t.equal((await put(gateway, '/media', 4 * MiB)).status, 201, 'the other route is judged against its own volume');

  // /srv/media leaves the answers; the roomy look-alikes stay.
  agent.body = () => answer([...extra.map(roomy), full(DAV)]);
  await until(async () => (await status(gateway)).volumes.find((v) => v.volume === MEDIA)?.fresh === false, 'the missing volume to go stale', 3000);
  const media = (await status(gateway)).volumes.find((v) => v.volume === MEDIA)!;
  t.match(media.lastError, /not in the agent’s answer/, '/status says why the volume has no fresh figures');
  const stale = await put(gateway, '/media', 1 * MiB);
  t.equal(stale.status, 503, 'after staleAfter the missing volume is unknown: onUnknown (reject) applies');
  t.equal(JSON.parse(stale.body.toString()).error, 'storage_unknown');
  t.equal(gateway.logLines.filter((l) => l.msg === 'agent does not report a configured volume').length, 1, 'logged once, not per poll');
  await guardHolds(t, gateway, origin, 'after the volume left');
  t.same(volumeNames(gateway), CONFIGURED);
});

t.test('(b) an answer that repeats a mount is refused whole: nothing recorded, the error in /status, logged once', async (t) => {
  const agent = await fakeAgent(t);
  const { gateway, origin } = await guarded(t, agent);
  // Both copies show room (with different figures), so that no way of
  // using a repeated mount — first wins, last wins — would hold the guard.
  agent.body = () => answer([roomy(DAV), roomy(MEDIA), { mount: DAV, availableBytes: 14 * MiB }]);
  const from = agent.polls();
  await until(() => agent.polls() >= from + 2, 'the first answers that repeat a mount'); // one answered before may still be in flight
  const takenAt = CONFIGURED.map((v) => gateway.registry.get('files', v)!.snapshot!.takenAt);
  await until(() => agent.polls() >= from + 22, 'twenty more');
  t.match((await status(gateway)).lastAgentError, /^bad answer: volumes\[2\]\.mount: "\/srv\/dav" is already volumes\[0\]$/, '/status states the rejection');
  await guardHolds(t, gateway, origin, 'with repeated mounts');
  t.same(CONFIGURED.map((v) => gateway.registry.get('files', v)!.snapshot!.takenAt), takenAt, 'no snapshot came from those answers, not even /srv/media’s');
  t.equal(pollFailures(gateway).length, 1, 'one log line for all those refused answers');
  t.match(pollFailures(gateway)[0], { origin: 'files', error: /is already volumes/ });

  agent.body = () => answer([roomy(DAV), roomy(MEDIA)]);
  await until(() => gateway.registry.get('files', DAV)!.snapshot!.availableBytes === 15 * MiB, 'a good answer to be used again');
  t.equal((await put(gateway, '/dav', 4 * MiB)).status, 201, 'a good answer after them is used');
});

t.test('(c) an answer whose time is skewed beyond maxClockSkew is refused whole; within the bound, or without time, it is used', async (t) => {
  const agent = await fakeAgent(t);
  const { gateway, origin } = await guarded(t, agent);
  const offsets = [-25 * 365 * 86_400_000, 3_600_000, -31_000]; // 2001-ish, an hour ahead, just past the 30 s default
  agent.body = (poll) => answer([roomy(DAV), roomy(MEDIA)], new Date(Date.now() + offsets[poll % 3]!).toISOString());
  const from = agent.polls();
  await until(() => agent.polls() >= from + 2, 'the first skewed answers'); // one answered before may still be in flight
  const takenAt = gateway.registry.get('files', DAV)!.snapshot!.takenAt;
  await until(() => agent.polls() >= from + 32, 'thirty more');
  t.match((await status(gateway)).lastAgentError, /^bad answer: time \S+ is [\d.]+ s (behind|ahead of) the gateway's clock \(maxClockSkew 30 s\)/, '/status states the rejection');
  await guardHolds(t, gateway, origin, 'with skewed times');
  t.equal(gateway.registry.get('files', DAV)!.snapshot!.takenAt, takenAt, 'no snapshot came from those answers');
  t.equal(pollFailures(gateway).length, 1, 'one log line for all those refused answers');

  agent.body = () => answer([full(DAV), roomy(MEDIA)], new Date(Date.now() - 20_000).toISOString());
  await until(() => gateway.registry.get('files', DAV)!.snapshot!.takenAt > takenAt, 'an answer 20 s behind, within the bound, to be used');
  agent.body = () => answer([roomy(DAV), roomy(MEDIA)], null);
  await until(() => gateway.registry.get('files', DAV)!.snapshot!.availableBytes === 15 * MiB, 'an answer without time to be used');
  t.pass('an answer 20 s behind and one without time are both used');
});

t.test('(d) an agent inventing 1,000 new mount names per poll for a minute: the guard holds, the registry keeps two volumes, RSS stays flat', async (t) => {
  const agent = await fakeAgent(t);
  const { gateway, origin } = await guarded(t, agent);
  agent.body = (poll) => {
    const invented = Array.from({ length: 1000 }, (_, i) => roomy(`/invented/${poll}/${i}`));
    return answer([...invented, full(DAV), roomy(MEDIA)]);
  };
  const start = Date.now();
  const samples: Memory[] = [];
  let checks = 0;
  while (Date.now() - start < 60_000) {
    const mark = agent.polls();
    await until(() => agent.polls() >= mark + 20, 'twenty more answers');
    const reply = await put(gateway, '/dav', 4 * MiB);
    const size = [...gateway.registry.all()].length;
    if (reply.status !== 507 || size !== 2) {
      t.fail(`after ${agent.polls()} polls: ${reply.status} for 4 MiB, ${size} volumes in the registry`);
      break;
    }
    checks++;
    if (samples.length === 0 && Date.now() - start > 5_000) samples.push(memory()); // after warm-up
  }
  samples.push(memory());
  const polls = agent.polls();
  const [first, last] = [samples[0]!, samples.at(-1)!];
  const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
  t.comment(`${polls} polls (${polls * 1000} invented names), ${checks} refused writes; after warm-up → end: RSS ${mib(first.rss)} → ${mib(last.rss)}, heap used ${mib(first.heapUsed)} → ${mib(last.heapUsed)}`);
  t.ok(polls >= 300, `the agent was polled ${polls} times`);
  t.ok(checks >= 15, `${checks} writes refused during the minute`);
  t.equal(origin.stats.bodyBytes, 0, '0 bytes at the origin');
  t.same(volumeNames(gateway), CONFIGURED, 'the registry holds only the configured volumes');
  t.ok(last.rss - first.rss < 30 * MiB, `RSS grew ${mib(last.rss - first.rss)} (bound 30 MiB)`);
  t.ok(last.heapUsed - first.heapUsed < 10 * MiB, `live heap grew ${mib(last.heapUsed - first.heapUsed)} (bound 10 MiB)`);
  t.equal(gateway.registry.get('files', DAV)!.snapshot!.availableBytes, 2 * MiB, 'the configured volume kept its own figures throughout');
});
