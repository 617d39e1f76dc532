import http from 'node:http';
import { once } from 'node:events';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { ConfigResult } from '../src/config/load.js';
import type { GatewayConfig } from '../src/config/types.js';
import { configFor, startTestGateway, type RunningGateway } from './helpers/gateway.js';
import { freePort, request, serve, until } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/origin.js';

const MiB = 1024 * 1024;

async function originFor(t: Test): Promise<TestOrigin> {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  return origin;
}

/** A gateway whose reloads read `next.config` (or its problems). */
async function reloadable(t: Test, first: GatewayConfig): Promise<{ gateway: RunningGateway; next: { result: ConfigResult } }> {
  const next: { result: ConfigResult } = { result: { ok: true, config: first } };
  const gateway = await startTestGateway(first, { load: () => next.result });
  t.teardown(() => gateway.shutdown());
  return { gateway, next };
}

const status = async (gateway: RunningGateway): Promise<Record<string, any>> => {
  const reply = await request(`http://127.0.0.1:${gateway.adminAddress.port}/status`);
  return JSON.parse(reply.body.toString()) as Record<string, any>;
};

/** An upload the test feeds piece by piece; `answer` resolves with the status. */
function slowUpload(url: string, size: number): { write(bytes: number): void; end(): void; answer: Promise<number> } {
  const req = http.request(url, { method: 'PUT', headers: { 'content-length': size } });
  const answer = once(req, 'response').then(([res]) => {
    (res as http.IncomingMessage).resume();
    return (res as http.IncomingMessage).statusCode!;
  });
  req.on('error', () => undefined);
  return { write: (bytes) => void req.write(Buffer.alloc(bytes, 'x')), end: () => req.end(), answer };
}

const localSource = (root: string, capacity: string, interval = '100ms') => ({ local: { paths: [root], capacity, interval } });

t.test('an upload admitted under the old policy completes after a reload; a write after it is judged by the new one', async (t) => {
  const origin = await originFor(t);
  const values = (maxBodySize: string) => ({
    log: { level: 'silent' },
    origins: [{ name: 'files', url: origin.url, headroom: localSource(origin.root, '256MiB') }],
    policy: { maxBodySize },
  });
  const { gateway, next } = await reloadable(t, configFor(origin.url, values('0')));
  await until(async () => (await status(gateway)).origins[0].volumes[0]?.fresh === true, 'a fresh snapshot');

  const upload = slowUpload(`${gateway.url}/big.bin`, 64 * MiB);
  upload.write(8 * MiB);
  await until(() => origin.stats.bodyBytes >= 8 * MiB, 'the first 8 MiB at the origin');

  next.result = { ok: true, config: configFor(origin.url, values('1MiB')) };
  const reloaded = await gateway.reload();
  t.match(reloaded, { ok: true, generation: 2, changed: ['policy'] }, 'the reload swapped in generation 2, naming what changed');
  t.equal(gateway.generation, 2);

  const after = await request(`${gateway.url}/small.bin`, { method: 'PUT' }, Buffer.alloc(2 * MiB));
  t.equal(after.status, 413, 'a write started after the reload meets the new maxBodySize');

  for (let sent = 8 * MiB; sent < 64 * MiB; sent += 8 * MiB) upload.write(8 * MiB);
  upload.end();
  t.equal(await upload.answer, 201, 'the upload admitted before the reload completes');
  t.equal((await stat(path.join(origin.root, 'big.bin'))).size, 64 * MiB, 'the whole file landed');
  await until(() => gateway.ledger.totalReservedBytes() === 0, 'reservations released');
});

t.test('a broken configuration leaves the running one serving: one log line per problem, the generation unchanged', async (t) => {
  const origin = await originFor(t);
  const first = configFor(origin.url, { log: { level: 'info' } });
  const { gateway, next } = await reloadable(t, first);
  next.result = { ok: false, problems: ['policy.reserve: must be a size or a percentage (got "lots")', 'routes[0].origin: names no origin ("nope")'] };

  const result = await gateway.reload();
  t.match(result, { ok: false, generation: 1 });
  t.equal(gateway.generation, 1);
  t.equal((await status(gateway)).generation, 1, '/status shows the running generation');
  const refused = gateway.logLines.filter((l) => String(l.msg).startsWith('reload refused: '));
  t.same(refused.map((l) => l.msg).slice(0, 2), ['reload refused: policy.reserve: must be a size or a percentage (got "lots")', 'reload refused: routes[0].origin: names no origin ("nope")'], 'one line per problem, with its key path');
  t.equal((await request(`${gateway.url}/a.txt`, { method: 'PUT' }, 'a')).status, 201, 'the old configuration still serves');
});

t.test('POST /reload on the admin listener: only with the token, and only when one is set', async (t) => {
  const origin = await originFor(t);
  const withToken = configFor(origin.url, { log: { level: 'silent' }, admin: { token: 's3cret-admin' } });
  const { gateway, next } = await reloadable(t, withToken);
  const admin = `http://127.0.0.1:${gateway.adminAddress.port}/reload`;
  t.equal((await request(admin, { method: 'POST' })).status, 401, 'no token sent: 401');
  t.equal((await request(admin, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status, 401, 'a wrong token: 401');
  t.equal((await request(admin, { method: 'GET', headers: { authorization: 'Bearer s3cret-admin' } })).status, 405, 'GET: 405');
  t.equal(gateway.generation, 1, 'none of those reloaded');
  next.result = { ok: true, config: configFor(origin.url, { log: { level: 'silent' }, admin: { token: 's3cret-admin' }, policy: { retryAfter: '5s' } }) };
  const ok = await request(admin, { method: 'POST', headers: { authorization: 'Bearer s3cret-admin' } });
  t.equal(ok.status, 200);
  t.match(JSON.parse(ok.body.toString()), { status: 'reloaded', generation: 2, changed: ['policy'] });
  next.result = { ok: false, problems: ['listen.port: must be a port'] };
  const bad = await request(admin, { method: 'POST', headers: { authorization: 'Bearer s3cret-admin' } });
  t.equal(bad.status, 422);
  t.match(JSON.parse(bad.body.toString()), { error: 'config_invalid', generation: 2, problems: ['listen.port: must be a port'] });

  const open = await reloadable(t, configFor(origin.url, { log: { level: 'silent' } }));
  const refused = await request(`http://127.0.0.1:${open.gateway.adminAddress.port}/reload`, { method: 'POST' });
  t.equal(refused.status, 403, 'without admin.token, POST /reload is never open');
  t.equal(open.gateway.generation, 1);
});

t.test('marks and reservations of a volume that stays survive a reload; a removed origin goes once its last exchange ends', async (t) => {
  const kept = await originFor(t);
  const removed = await originFor(t);
  // An origin that answers every write with its own 507: the gateway marks its volume full.
  const fullRoot = path.join(kept.root, 'full-origin');
  await mkdir(fullRoot);
  await mkdir(path.join(kept.root, 'removed'));
  await mkdir(path.join(removed.root, 'removed'));
  let fullOriginWrites = 0;
  const fullUrl = await serve(t, (req, res) => {
    fullOriginWrites++;
    req.resume();
    req.on('end', () => res.writeHead(507, { 'content-length': 0 }).end());
  });
  const floodRoot = path.join(removed.root, '..', `${path.basename(removed.root)}-flood`);
  await mkdir(floodRoot);
  t.teardown(() => rm(floodRoot, { recursive: true, force: true }));
  await writeFile(path.join(floodRoot, 'filler'), Buffer.alloc(1000 * 1024));

  // A snapshot at start and then not for an hour: a restarted source would take a new one at once and lift the 507 mark.
  const hour = '1h';
  const values = (withRemoved: boolean, retryAfter: string) => ({
    log: { level: 'silent' },
    origins: [
      { name: 'kept', url: kept.url, headroom: localSource(kept.root, '256MiB') },
      { name: 'full', url: fullUrl, headroom: localSource(fullRoot, '256MiB', hour) },
      { name: 'flood', url: kept.url, headroom: localSource(floodRoot, '1MiB', hour) },
      ...(withRemoved ? [{ name: 'removed', url: removed.url, headroom: localSource(removed.root, '256MiB') }] : []),
    ],
    routes: [
      { match: { pathPrefix: '/full/' }, origin: 'full' },
      { match: { pathPrefix: '/flood/' }, origin: 'flood' },
      ...(withRemoved ? [{ match: { pathPrefix: '/removed/' }, origin: 'removed' }] : []),
      { match: { pathPrefix: '/' }, origin: 'kept' },
    ],
    policy: { retryAfter },
  });
  const { gateway, next } = await reloadable(t, configFor(kept.url, values(true, '60s')));
  const volumesOf = async (name: string) => (await status(gateway)).origins.find((o: { name: string }) => o.name === name)?.volumes as Array<Record<string, any>> | undefined;
  await until(async () => (await status(gateway)).origins.every((o: { volumes: Array<{ fresh: boolean }> }) => o.volumes[0]?.fresh), 'fresh snapshots of every volume');

  t.equal((await request(`${gateway.url}/full/a.bin`, { method: 'PUT' }, 'a')).status, 507, 'the origin’s own 507');
  t.equal((await volumesOf('full'))![0]!.markedFull, true, 'the volume is marked full');
  t.equal((await volumesOf('flood'))![0]!.flood, true, 'the flood volume is in flood stage');

  const keptUpload = slowUpload(`${gateway.url}/kept.bin`, 8 * MiB);
  const removedUpload = slowUpload(`${gateway.url}/removed/gone.bin`, 4 * MiB);
  keptUpload.write(MiB);
  removedUpload.write(MiB);
  await until(() => kept.stats.bodyBytes >= MiB && removed.stats.bodyBytes >= MiB, 'both uploads streaming');
  // What they have yet to send is held; what they sent is counted as written (docs/admission.md).
  t.equal((await status(gateway)).reservedBytes, 10 * MiB, 'both uploads hold the rest of their declared size');

  next.result = { ok: true, config: configFor(kept.url, values(false, '30s')) };
  t.match(await gateway.reload(), { ok: true, generation: 2, changed: ['routes', 'policy', 'origin removed removed'] });

  const during = await status(gateway);
  t.equal(during.generation, 2);
  t.equal(during.reservedBytes, 10 * MiB, 'in-flight reservations survive the reload');
  t.equal((await volumesOf('full'))![0]!.markedFull, true, 'the origin-507 mark survives (its source was not restarted)');
  t.equal((await volumesOf('flood'))![0]!.flood, true, 'flood stage survives');
  t.ok(await volumesOf('removed'), 'the removed origin is still shown while its upload is in flight');

  const writesBefore = fullOriginWrites;
  const refused = await request(`${gateway.url}/full/b.bin`, { method: 'PUT' }, 'b');
  t.equal(refused.status, 507, 'the marked volume still refuses');
  t.equal(fullOriginWrites, writesBefore, 'at the gateway: nothing reached the origin');
  t.equal((await request(`${gateway.url}/removed/new.bin`, { method: 'PUT' }, 'n')).status, 201, 'the removed route is gone: the write goes by the catch-all route');

  removedUpload.write(3 * MiB);
  removedUpload.end();
  t.equal(await removedUpload.answer, 201, 'the upload to the removed origin completes');
  await until(async () => (await volumesOf('removed')) === undefined, 'the removed origin leaves /status after its last exchange');
  t.equal([...gateway.registry.all()].filter((s) => s.origin === 'removed').length, 0, 'and the registry forgets its volume');

  keptUpload.write(7 * MiB);
  keptUpload.end();
  t.equal(await keptUpload.answer, 201);
  await until(() => gateway.ledger.totalReservedBytes() === 0, 'every reservation released');
});

t.test('a reload that moves the listener binds the new address; the old one finishes its upload, then closes', async (t) => {
  const origin = await originFor(t);
  const [first, second, adminPort] = [await freePort(), await freePort(), await freePort()];
  const values = (port: number, admin: number) => ({ log: { level: 'silent' }, listen: { port }, admin: { port: admin } });
  const { gateway, next } = await reloadable(t, configFor(origin.url, values(first, 0)));
  const oldAdmin = gateway.adminAddress.port;
  const upload = slowUpload(`http://127.0.0.1:${first}/moving.bin`, 2 * MiB);
  upload.write(MiB);
  await until(() => origin.stats.bodyBytes >= MiB, 'the upload streaming on the old listener');

  next.result = { ok: true, config: configFor(origin.url, values(second, adminPort)) };
  t.match(await gateway.reload(), { ok: true, changed: ['listen', 'admin'] });
  t.equal(gateway.address.port, second);
  t.equal(gateway.adminAddress.port, adminPort, 'the admin listener moved too');
  t.equal((await request(`http://127.0.0.1:${second}/a.txt`, { method: 'PUT' }, 'a')).status, 201, 'the new address serves');
  await t.rejects(request(`http://127.0.0.1:${first}/b.txt`), { code: 'ECONNREFUSED' }, 'the old address takes no new connection');
  await t.rejects(request(`http://127.0.0.1:${oldAdmin}/healthz`), { code: 'ECONNREFUSED' }, 'nor the old admin address');

  upload.write(MiB);
  upload.end();
  t.equal(await upload.answer, 201, 'the upload on the old listener completes');

  const occupied = await serve(t, (_req, res) => res.end());
  next.result = { ok: true, config: configFor(origin.url, values(Number(new URL(occupied).port), adminPort)) };
  const refused = await gateway.reload();
  t.match(refused, { ok: false, generation: 2 }, 'an address that cannot be bound: the reload is refused');
  t.match(refused.ok ? null : refused.problems[0], /EADDRINUSE/);
  t.equal((await request(`http://127.0.0.1:${second}/c.txt`, { method: 'PUT' }, 'c')).status, 201, 'and the running listener serves on');
});

t.test('POST /reload that moves the admin listener is answered; settings read only at start are said to wait for a restart, on every reload', async (t) => {
  const origin = await originFor(t);
  const newAdmin = await freePort();
  const values = (admin: number, serviceName: string) => ({ log: { level: 'info' }, admin: { port: admin, token: 'admin-token' }, telemetry: { serviceName } });
  const { gateway, next } = await reloadable(t, configFor(origin.url, values(0, 'headroom')));
  next.result = { ok: true, config: configFor(origin.url, values(newAdmin, 'renamed')) };
  const answer = await request(`http://127.0.0.1:${gateway.adminAddress.port}/reload`, { method: 'POST', headers: { authorization: 'Bearer admin-token' } });
  t.equal(answer.status, 200, 'the request that moved the listener gets its answer');
  t.equal(gateway.adminAddress.port, newAdmin);
  next.result = { ok: true, config: configFor(origin.url, { ...values(newAdmin, 'renamed'), policy: { retryAfter: '1s' } }) };
  t.match(await gateway.reload(), { ok: true, generation: 3 });
  const waiting = gateway.logLines.filter((l) => l.msg === 'telemetry settings take effect at the next restart, not on reload');
  t.equal(waiting.length, 2, 'both reloads say the telemetry change waits for a restart');
});
