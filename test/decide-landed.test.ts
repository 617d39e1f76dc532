import { statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { once } from 'node:events';
import t from 'tap';
import { CADDY } from './helpers/caddy.js';
import { decideSetup, documentedCaddy, LONG_LEASES, nextSnapshot, type DecideSetup } from './helpers/decide.js';
import { request, until } from './helpers/http.js';
import { withBinaries } from './helpers/installed.js';
import { startRedis } from './helpers/redis.js';
import { withTmpfs } from './helpers/tmpfs.js';

// A lease of the decision endpoint ends early when a snapshot shows its
// bytes landed (docs/decision-endpoint.md#leases-how-an-allowed-write-ends) — and only then: growth
// that other writes explain does not end it.

const MiB = 1024 ** 2;

const usedBytes = (dir: string): number => {
  const s = statfsSync(dir);
  return (s.blocks - s.bavail) * s.bsize;
};

const leaseEnds = async (setup: DecideSetup): Promise<Record<string, number>> => {
  const admin = `http://127.0.0.1:${setup.gateway.adminAddress.port}`;
  return JSON.parse((await request(`${admin}/plugins/decide/`)).body.toString()).ended;
};

withTmpfs(t, 'leases ended by the snapshot that shows their bytes, on a 16 MiB tmpfs behind Apache', async (t) => {
  withBinaries(t, 'Caddy sends no end signal: the write stored through it gives its room back at the next snapshots', [CADDY, '/usr/sbin/apache2'], async (t) => {
    const setup = await decideSetup(t, LONG_LEASES);
    const port = await documentedCaddy(t, setup);

    // One after the other: a write that ends beside a lease may account for some growth (see the docs), and would delay it.
    for (const name of ['one.bin', 'two.bin']) {
      const stored = await request(`http://127.0.0.1:${port}/${name}`, { method: 'PUT', headers: { 'content-length': 3 * MiB } }, Buffer.alloc(3 * MiB, 1));
      t.equal(stored.status, 201, `${name} is stored`);
      await until(async () => (await setup.held()).leases === 0, `${name}'s lease to end`, 10_000);
    }
    t.same(await setup.held(), { reservedBytes: 0, leases: 0 }, 'nothing is held');
    t.match(await leaseEnds(setup), { landed: 2, time: 0, signal: 0 }, 'both ended by a snapshot');
  });

  withBinaries(t, 'a lease whose write never came, or whose growth another upload explains, stays', ['/usr/sbin/apache2'], async (t) => {
    const setup = await decideSetup(t, LONG_LEASES);
    const ask = (uri: string, bytes: number) =>
      request(setup.toDecide.url, { headers: { 'x-original-method': 'PUT', 'x-original-uri': uri, 'x-original-content-length': String(bytes) } });

    // An upload streamed through the gateway itself, half sent: its bytes land while it still holds its room.
    const base = usedBytes(setup.volume);
    const upload = http.request(`http://127.0.0.1:${setup.gateway.address.port}/streamed.bin`, { method: 'PUT', headers: { 'content-length': 8 * MiB } });
    const answered = once(upload, 'response');
    upload.write(Buffer.alloc(MiB, 3));
    await until(() => usedBytes(setup.volume) >= base + MiB, 'the first MiB on the volume');

    t.equal((await ask('/never.bin', MiB)).status, 204, 'a 1 MiB write is allowed, and never sent');
    upload.write(Buffer.alloc(3 * MiB, 3));
    await until(() => usedBytes(setup.volume) >= base + 4 * MiB, 'the next 3 MiB on the volume');
    await nextSnapshot(setup);
    await nextSnapshot(setup);
    t.equal((await setup.held()).leases, 1, 'the 3 MiB that landed are the streaming upload’s, not the lease’s');

    upload.end(Buffer.alloc(4 * MiB, 3));
    const [response] = (await answered) as [http.IncomingMessage];
    response.resume();
    t.equal(response.statusCode, 201, 'the streamed upload is stored');
    await nextSnapshot(setup);
    await nextSnapshot(setup);
    t.equal((await setup.held()).leases, 1, 'its whole 8 MiB, counted as written, explain the growth: the lease stays');
    t.equal((await setup.held()).reservedBytes, MiB, 'holding its 1 MiB');
    t.match(await leaseEnds(setup), { landed: 0 });
  });

  for (const backend of ['memory', 'redis'] as const) {
    const what = backend === 'memory'
      ? 'with its own ledger, growth from a file written around the gateway is taken for the lease’s (the documented caveat)'
      : 'with a shared ledger (Redis), whose other gateways’ writes grow the volume too, growth ends no lease';
    withBinaries(t, what, ['/usr/sbin/apache2', ...(backend === 'redis' ? ['/usr/bin/redis-server'] : [])], async (t) => {
      const ledger = backend === 'redis' ? { ledger: { backend: 'redis', url: (await startRedis(t)).url } } : {};
      const setup = await decideSetup(t, LONG_LEASES, ledger);
      const asked = await request(setup.toDecide.url, { headers: { 'x-original-method': 'PUT', 'x-original-uri': '/never.bin', 'x-original-content-length': String(MiB) } });
      t.equal(asked.status, 204);
      writeFileSync(path.join(setup.volume, 'around.bin'), Buffer.alloc(2 * MiB, 4));
      await nextSnapshot(setup);
      await nextSnapshot(setup);
      t.equal((await setup.held()).leases, backend === 'memory' ? 0 : 1);
      t.match(await leaseEnds(setup), { landed: backend === 'memory' ? 1 : 0 });
    });
  }
});
