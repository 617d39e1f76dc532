import t from 'tap';
import http from 'node:http';
import { statfsSync, readdirSync } from 'node:fs';
import { gatewayFor } from './helpers/gateway.js';
import { until } from './helpers/http.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// Every creating write holds an inode from its admission until its exchange
// ends, so concurrent small uploads cannot take a volume's inodes past
// minFreeInodes between two snapshots — and Apache never runs out itself.

const INODES = 200;
const MIN_FREE = 20;

interface Outcome {
  readonly status: number;
  readonly server: string | undefined;
  readonly error: string | null;
}

function put(base: string, name: string, agent: http.Agent): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/${name}`, { method: 'PUT', agent, headers: { 'content-length': '1024' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        const json = res.headers['content-type']?.includes('json') ? (JSON.parse(body) as { error?: string }) : null;
        resolve({ status: res.statusCode!, server: res.headers.server as string | undefined, error: json?.error ?? null });
      });
    });
    req.on('error', reject);
    req.end(Buffer.alloc(1024, 5));
  });
}

withTmpfs(t, `300 concurrent 1 KiB creating PUTs on a tmpfs of ${INODES} inodes: free inodes never fall below minFreeInodes (${MIN_FREE}), Apache never answers 507`, async (t) => {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const volume = mountTmpfs(t, `size=16m,nr_inodes=${INODES},uid=33,gid=33`);
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  const gateway = await gatewayFor(t, apache.url, {
    origins: [{ name: 'dav', url: apache.url, headroom: { local: { paths: [volume], interval: '50ms' } } }],
    routes: [{ origin: 'dav' }],
    policy: { reserve: '1MiB', minFreeInodes: MIN_FREE },
    log: { level: 'warn' },
  });
  await until(() => gateway.registry.get('dav', volume)?.snapshot != null, 'the first snapshot');
  const freeAtStart = statfsSync(volume).ffree;
  t.ok(freeAtStart - MIN_FREE < 300, `${freeAtStart} free inodes: only part of the 300 fit`);

  let lowest = freeAtStart;
  const sample = (): void => {
    lowest = Math.min(lowest, statfsSync(volume).ffree);
  };
  const sampler = setInterval(sample, 1);
  t.teardown(() => clearInterval(sampler));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 300 });
  t.teardown(() => agent.destroy());
  const outcomes = await Promise.all(
    Array.from({ length: 300 }, (_, i) =>
      put(gateway.url, `f${i}.bin`, agent).then((o) => {
        sample();
        return o;
      }),
    ),
  );
  clearInterval(sampler);
  sample();

  const count = (f: (o: Outcome) => boolean) => outcomes.filter(f).length;
  const stored = count((o) => o.status === 201);
  const refused = count((o) => o.status === 507 && o.server === 'headroom' && o.error === 'insufficient_inodes');
  const fromApache = count((o) => o.status === 507 && o.server !== 'headroom');
  t.comment(`free inodes ${freeAtStart} at start, lowest ${lowest}; ${stored} stored, ${refused} refused by the gateway, ${fromApache} got Apache's own 507`);
  t.ok(lowest >= MIN_FREE, `free inodes never went below ${MIN_FREE} (lowest ${lowest})`);
  t.equal(fromApache, 0, 'no request got Apache’s own 507');
  t.equal(stored + refused, 300, 'every PUT was stored or refused by the gateway with insufficient_inodes');
  t.ok(stored > 0 && refused > 0, 'some fit, some did not');
  t.equal(readdirSync(volume).filter((n) => n.startsWith('f')).length, stored, 'only the stored ones are on the volume');
  await until(() => gateway.ledger.totalReservedInodes() === 0 && gateway.ledger.totalReservedBytes() === 0, 'the ledger to return to 0');
});
