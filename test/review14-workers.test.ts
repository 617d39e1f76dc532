import http from 'node:http';
import { readFileSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import YAML from 'yaml';
import { freePort, request, until } from './helpers/http.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { spawnGateway, type GatewayProcess } from './helpers/process.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';
import { writeBody } from './helpers/upload.js';

// Review of `workers: 2` under faults: the primary killed, workers killed
// mid-upload again and again, reloads during uploads.

const MiB = 1024 * 1024;

const statusOf = async (g: GatewayProcess): Promise<{ generation: number; reservedBytes: number }> =>
  JSON.parse((await request(`${g.adminUrl}/status`)).body.toString()) as { generation: number; reservedBytes: number };

const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

/** A PUT; resolves with its status (0 when the connection failed, -1 when nothing came back within `hungMs`) and the problem's error. */
function upload(url: string, bytes: number, chunked: boolean, hungMs = 15_000): Promise<{ status: number; error: string | null }> {
  return new Promise((resolve) => {
    const hung = setTimeout(() => {
      req.destroy();
      resolve({ status: -1, error: 'hung' });
    }, hungMs);
    const req = http.request(url, { method: 'PUT', agent: false, headers: chunked ? {} : { 'content-length': String(bytes) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, error: res.headers['content-type'] === 'application/problem+json' ? Buffer.concat(parts).toString() : null }));
      res.on('error', () => resolve({ status: res.statusCode!, error: 'response cut' }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message }));
    req.on('close', () => clearTimeout(hung));
    writeBody(req, bytes);
  });
}

async function group(t: Test, volume: string, apacheUrl: string): Promise<GatewayProcess> {
  const g = await spawnGateway({
    // A fixed port: with port 0, a group whose workers all died comes back on another port.
    listen: { host: '127.0.0.1', port: await freePort(), drainTimeout: '5s' },
    admin: { host: '127.0.0.1', port: 0 },
    origins: [{ name: 'dav', url: apacheUrl, headroom: { local: { paths: [volume], interval: '100ms' } } }],
    routes: [{ origin: 'dav' }],
    policy: { reserve: '1MiB' },
    workers: 2,
    log: { level: 'info' },
  });
  t.teardown(() => {
    for (const pid of childrenOf(g.child.pid!)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    return g.kill();
  });
  await until(async () => ((JSON.parse((await request(`${g.adminUrl}/status`)).body.toString()) as { origins: Array<{ volumes: Array<{ fresh: boolean }> }> }).origins[0]?.volumes[0]?.fresh ?? false) === true, 'a fresh snapshot');
  return g;
}

const empty = (dir: string): void => {
  for (const name of readdirSync(dir)) rmSync(path.join(dir, name), { recursive: true, force: true });
};

if (!apacheInstalled()) t.fail('apache2 is not installed');
else {
  withTmpfs(t, 'kill -9 of the primary: both workers exit, no orphan', async (t) => {
    const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
    const apache = await startApache(volume);
    t.teardown(() => apache.close());
    const g = await group(t, volume, apache.url);
    const workers = childrenOf(g.child.pid!);
    t.equal(workers.length, 2, 'two workers');
    // Mid-upload, so the workers have something to do when the primary goes.
    const streaming = Array.from({ length: 4 }, (_, i) => upload(`${g.url}/k${i}.bin`, 2 * MiB, true));
    g.child.kill('SIGKILL');
    await g.exited;
    await until(() => workers.every((pid) => !alive(pid)), 'every worker to exit', 5000).catch(() => undefined);
    t.same(workers.filter(alive), [], 'no worker left running');
    await Promise.all(streaming);
  });

  withTmpfs(t, 'kill -9 of workers mid-upload, many times quickly: the group keeps serving and reservations return to 0', async (t) => {
    const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
    const apache = await startApache(volume);
    t.teardown(() => apache.close());
    const g = await group(t, volume, apache.url);
    const outcomes: Array<{ status: number; error: string | null }> = [];
    for (let round = 0; round < 6; round++) {
      empty(volume);
      const streaming = Array.from({ length: 8 }, (_, i) => upload(`${g.url}/c${round}-${i}.bin`, MiB, i % 2 === 0, 8000));
      await until(async () => (await statusOf(g)).reservedBytes > 0, 'uploads to hold room', 5000).catch(() => undefined);
      const victims = childrenOf(g.child.pid!);
      if (victims[round % victims.length]) process.kill(victims[round % victims.length]!, 'SIGKILL');
      outcomes.push(...(await Promise.all(streaming)));
    }
    t.test('no client left hanging by a worker that died', { todo: 'bug: primary.ts forks under node:cluster round-robin; a connection the primary accepted and was handing to the worker that died stays in the primary, never answered' }, async (t) => {
      t.equal(outcomes.filter((o) => o.status === -1).length, 0, `uploads with no answer within 8 s: ${outcomes.filter((o) => o.status === -1).length} of ${outcomes.length}`);
    });
    await until(async () => (await statusOf(g)).reservedBytes === 0, 'reservations back to 0', 5000).catch(() => undefined);
    t.equal((await statusOf(g)).reservedBytes, 0, 'nothing reserved');
    // The crash loop's backoff ends: both workers serve again.
    await until(() => childrenOf(g.child.pid!).length === 2, 'two workers again', 40_000);
    empty(volume);
    const quiet = Date.now();
    const ageOf = async (): Promise<number> => (JSON.parse((await request(`${g.adminUrl}/status`)).body.toString()) as { origins: Array<{ volumes: Array<{ snapshotAgeMs: number }> }> }).origins[0]!.volumes[0]!.snapshotAgeMs;
    await until(async () => Date.now() - (await ageOf()) > quiet + 600, 'a snapshot taken after the files went');
    const s = statfsSync(volume);
    const after = await upload(`${g.url}/after.bin`, s.bavail * s.bsize - 3 * MiB, false);
    // Seen in about one run in three: 2 MiB more than the reserve still counted after the crash loop and a fresh snapshot.
    t.equal(after.status, 201, `the room is free again (${after.error ?? after.status})`, { todo: 'bug, not yet explained: after a crash loop of workers, a fresh snapshot can still be short of the room by what the killed uploads held' });
  });

  withTmpfs(t, 'SIGHUP during heavy uploads: no request fails', async (t) => {
    const volume = mountTmpfs(t, 'size=64m,uid=33,gid=33');
    const apache = await startApache(volume);
    t.teardown(() => apache.close());
    const g = await group(t, volume, apache.url);
    const config = YAML.parse(readFileSync(g.file, 'utf8')) as Record<string, unknown>;
    const outcomes: Array<{ status: number; error: string | null }> = [];
    let stop = false;
    const load = (async () => {
      for (let round = 0; !stop; round++) {
        outcomes.push(...(await Promise.all(Array.from({ length: 8 }, (_, i) => upload(`${g.url}/h${round}-${i}.bin`, 256 * 1024, i % 2 === 0)))));
        empty(volume);
      }
    })();
    for (let i = 0; i < 5; i++) {
      config.via = { pseudonym: `reload-${i}` };
      writeFileSync(g.file, YAML.stringify(config));
      const seen = outcomes.length;
      await until(() => outcomes.length > seen, 'uploads between reloads', 8000);
      const before = (await statusOf(g)).generation;
      g.child.kill('SIGHUP');
      await until(async () => (await statusOf(g)).generation > before, 'the reload', 8000);
    }
    stop = true;
    await load;
    const failed = outcomes.filter((o) => o.status !== 201 && o.status !== 204);
    t.ok(outcomes.length >= 40, `${outcomes.length} uploads during 5 reloads`);
    // Seen in about one run in four: one upload refused 507 on a nearly empty volume during the reloads.
    t.same(failed, [], 'every upload stored', { todo: 'bug, not yet explained: now and then one upload gets the gateway’s 507 on a nearly empty volume during a group reload' });
    t.equal((await statusOf(g)).reservedBytes, 0, 'nothing left reserved');
  });
}
