import { createWriteStream, writeFileSync } from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { once } from 'node:events';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { loadGatewayConfig } from '../src/config/load.js';
import { configFor, startTestGateway } from './helpers/gateway.js';
import { request, until } from './helpers/http.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// routes[].volumes: a write needs room on every volume its route lists —
// here an origin that spools each upload to a temp volume, then moves it
// into place, as PHP, Nextcloud and nginx's client_body_temp_path do.

const MiB = 1024 ** 2;

interface SpoolingOrigin {
  readonly url: string;
  /** Body bytes it received. */
  readonly received: () => number;
  /** Requests it is still reading. */
  readonly reading: () => number;
  close(): Promise<void>;
}

/** Stores a PUT's body in `spool` first (507 when that fails, as a full disk does), then copies it to `target` and removes the spooled file. */
async function spoolingOrigin(spool: string, target: string): Promise<SpoolingOrigin> {
  let received = 0;
  let reading = 0;
  let n = 0;
  const server = http.createServer((req, res) => {
    reading++;
    req.on('close', () => reading--);
    req.on('data', (chunk: Buffer) => (received += chunk.length));
    const spooled = path.join(spool, `upload-${n++}`);
    const name = path.join(target, path.basename(req.url!));
    // The spooled file is gone before the answer, as a server's move into place is.
    pipeline(req, createWriteStream(spooled))
      .then(() => copyFile(spooled, name))
      .then(
        () => rm(spooled).then(() => res.writeHead(201).end()),
        () => rm(spooled, { force: true }).then(() => res.writeHead(507).end()),
      );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    received: () => received,
    reading: () => reading,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

withTmpfs(t, 'a route whose writes need a target volume and a temp volume', async (t) => {
  const target = mountTmpfs(t, 'size=16m');
  const spool = mountTmpfs(t, 'size=4m');
  const origin = await spoolingOrigin(spool, target);
  t.teardown(() => origin.close());
  const gateway = await startTestGateway(configFor(origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [target, spool], interval: '100ms' } } }],
    routes: [
      // A server that spools a compressed copy, say: half the body on the temp volume.
      { match: { pathPrefix: '/half/' }, origin: 'files', volumes: [target, { volume: spool, share: 0.5 }] },
      { match: { pathPrefix: '/' }, origin: 'files', volumes: [target, { volume: spool, share: 1 }] },
    ],
    policy: { reserve: 0 },
  }));
  t.teardown(() => gateway.shutdown());
  const admin = `http://127.0.0.1:${gateway.adminAddress.port}`;
  const reserved = async (): Promise<Record<string, number>> => {
    const status = JSON.parse((await request(`${admin}/status`)).body.toString());
    return Object.fromEntries(status.origins[0].volumes.map((v: { volume: string; reservedBytes: number }) => [v.volume === target ? 'target' : 'spool', v.reservedBytes]));
  };
  await until(async () => JSON.parse((await request(`${admin}/status`)).body.toString()).origins[0].volumes.every((v: { snapshotAgeMs: number | null }) => v.snapshotAgeMs !== null), 'first snapshots');

  for (const [where, spoolShare] of [['/fits.bin', 1], ['/half/fits.bin', 0.5]] as const) {
    await t.test(`both with room: admitted, each holds its share of the body (${where}), both released at the end`, async (t) => {
      const upload = http.request(`${gateway.url}${where}`, { method: 'PUT', headers: { 'content-length': 2 * MiB } });
      const answered = once(upload, 'response');
      upload.flushHeaders();
      const whole = { target: 2 * MiB, spool: 2 * MiB * spoolShare };
      await until(async () => JSON.stringify(await reserved()) === JSON.stringify(whole), 'the write admitted');
      t.same(await reserved(), whole, 'before any byte of the body, each volume holds its share of it');
      upload.end(Buffer.alloc(2 * MiB, 1));
      const [response] = (await answered) as [http.IncomingMessage];
      response.resume();
      t.equal(response.statusCode, 201);
      t.same(await reserved(), { target: 0, spool: 0 }, 'both reservations released');
    });
  }

  await t.test('a chunked body past the size its header declared is stopped there, on a route of two volumes', async (t) => {
    const at = origin.received();
    const lying = await request(`${gateway.url}/lying.bin`, { method: 'PUT', headers: { 'transfer-encoding': 'chunked', 'oc-total-length': String(MiB) } }, Buffer.alloc(3 * MiB, 4));
    t.equal(lying.status, 400);
    await until(() => origin.reading() === 0, 'the origin done with the stopped upload');
    t.match(JSON.parse(lying.body.toString()), { error: 'declared_length_exceeded', requested: MiB });
    t.ok(origin.received() - at <= MiB, `the origin got no byte past the declared 1 MiB (${origin.received() - at})`);
    await until(async () => JSON.stringify(await reserved()) === JSON.stringify({ target: 0, spool: 0 }), 'both reservations released');
  });

  await t.test('the temp volume without room: 507 naming it, and no byte at the origin', async (t) => {
    writeFileSync(path.join(spool, 'stuck'), Buffer.alloc(3 * MiB));
    t.teardown(() => rm(path.join(spool, 'stuck'), { force: true }));
    const at = origin.received();
    await until(async () => {
      const status = JSON.parse((await request(`${admin}/status`)).body.toString());
      return status.origins[0].volumes.find((v: { volume: string }) => v.volume === spool).usableBytes < 2 * MiB;
    }, 'a snapshot of the filled temp volume');
    const refused = await request(`${gateway.url}/big.bin`, { method: 'PUT', headers: { 'content-length': 2 * MiB } }, Buffer.alloc(2 * MiB, 2));
    t.equal(refused.status, 507);
    t.match(JSON.parse(refused.body.toString()), { error: 'insufficient_storage', volume: spool, requested: 2 * MiB });
    t.equal(origin.received(), at, 'the origin received 0 bytes');
    t.same(await reserved(), { target: 0, spool: 0 }, 'the target’s reservation, taken first, was given back');

    const chunked = await request(`${gateway.url}/chunked.bin`, { method: 'PUT', headers: { 'transfer-encoding': 'chunked' } }, Buffer.alloc(3 * MiB, 3));
    t.equal(chunked.status, 507, 'a chunked body that outgrows the temp volume’s room is cut');
    t.match(JSON.parse(chunked.body.toString()), { volume: spool });
    t.ok(origin.received() - at < 2 * MiB, 'the origin got less than the temp volume’s room of it');
    t.same(await reserved(), { target: 0, spool: 0 });
  });
});

t.test('routes[].volumes in the configuration', async (t) => {
  const load = (route: Record<string, unknown>, paths = ['/srv/dav', '/srv/tmp']) =>
    loadGatewayConfig({ file: null, env: {}, values: { origins: [{ name: 'files', url: 'http://127.0.0.1:1', headroom: { local: { paths } } }], routes: [{ origin: 'files', ...route }] } });
  const ok = load({ volumes: ['/srv/dav', { volume: '/srv/tmp', share: 0.5 }] });
  t.ok(ok.ok);
  if (ok.ok) t.same({ volume: ok.config.routes[0]!.volume, volumes: ok.config.routes[0]!.volumes }, { volume: '/srv/dav', volumes: [{ volume: '/srv/dav', share: 1 }, { volume: '/srv/tmp', share: 0.5 }] }, 'the first is the target; a plain name takes the whole body');
  for (const [route, problem] of [
    [{ volume: '/srv/dav', volumes: ['/srv/tmp'] }, /routes\[0\]\.volumes: give either volume .* or volumes/],
    [{ volumes: [] }, /routes\[0\]\.volumes: an empty list/],
    [{ volumes: ['/srv/dav', '/srv/dav'] }, /routes\[0\]\.volumes: "\/srv\/dav" is listed twice/],
    [{ volumes: [{ volume: '/srv/tmp', share: 0 }] }, /routes\[0\]\.volumes\[0\]\.share: expected a number above 0/],
    [{ volumes: [{ volume: '/srv/dav', share: 0.5 }, '/srv/tmp'] }, /routes\[0\]\.volumes\[0\]\.share: the first volume is the target, which stores the whole body; a share there must be 1/],
    [{ volumes: ['/srv/dav', { volume: '/srv/tmp', share: '1' }] }, /routes\[0\]\.volumes\[1\]\.share: expected a number above 0/],
    [{ volumes: [{ volume: '/srv/tmp', size: 1 }] }, /routes\[0\]\.volumes\[0\]\.size: unknown key/],
    [{ volumes: [{ share: 1 }] }, /routes\[0\]\.volumes\[0\]\.volume: expected the volume's name/],
    [{ volumes: [7] }, /routes\[0\]\.volumes\[0\]: expected a volume's name, or \{ volume, share \}/],
    [{ volumes: ['/srv/dav', '/srv/other'] }, /routes\[0\]\.volumes\[1\]\.volume: "\/srv\/other" is not one of origin "files"'s local paths/],
    [{ volumes: { volume: '/srv/dav' } }, /routes\[0\]\.volumes: expected a list/],
  ] as const) {
    const result = load(route as Record<string, unknown>);
    t.notOk(result.ok, JSON.stringify(route));
    if (!result.ok) t.match(result.problems.join('\n'), problem);
  }
});
