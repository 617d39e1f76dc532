import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { request, until } from './helpers/http.js';
import { withBinaries } from './helpers/installed.js';
import { NODE_EXPORTER, startNodeExporter } from './helpers/node-exporter.js';
import { PROMETHEUS, startPrometheus } from './helpers/prometheus.js';
import { mountTmpfs, tmpfsUnavailable } from './helpers/tmpfs.js';
import { startSampleOrigin, type SampleOrigin } from '../src/demo/sample-origin.js';

// Acceptance: Debian's node_exporter reports a tmpfs that an origin writes
// to; the gateway reads its figures straight from node_exporter, or from a
// Prometheus server that scrapes it, and refuses what does not fit.

const MiB = 1024 * 1024;
const SCRAPE_MS = 1000; // the test Prometheus's scrape interval
const INTERVAL_MS = 300;
const TIMEOUT_MS = 500;

interface VolumeStatus {
  volume: string;
  availableBytes: number | null;
  fresh: boolean;
  source: string | null;
  lastError: string | null;
  snapshotAgeMs: number | null;
}

async function volumes(gateway: RunningGateway): Promise<VolumeStatus[]> {
  const body = JSON.parse((await request(`http://127.0.0.1:${gateway.adminAddress.port}/status`)).body.toString()) as { origins: Array<{ volumes: VolumeStatus[] }> };
  return body.origins.flatMap((o) => o.volumes);
}

const put = (gateway: RunningGateway, bytes: number) =>
  request(`${gateway.url}/f-${Math.random()}.bin`, { method: 'PUT', headers: { 'content-length': String(bytes) } }, Buffer.alloc(bytes));

/** A 16 MiB tmpfs with a file-storing origin writing into it. */
async function originOnTmpfs(t: Test): Promise<{ volume: string; origin: SampleOrigin }> {
  const volume = mountTmpfs(t, 'size=16m');
  const origin = await startSampleOrigin(volume);
  t.teardown(() => origin.close());
  return { volume, origin };
}

/**
 * The acceptance steps, whatever the source: a write that does not fit is
 * refused with 0 bytes at the origin; one that fits is stored; the volume
 * filled behind the gateway's back shows on /status within `withinMs` and
 * the next write is refused.
 */
async function acceptance(t: Test, gateway: RunningGateway, volume: string, name: string, origin: SampleOrigin, source: string, withinMs: number): Promise<void> {
  await until(async () => (await volumes(gateway)).find((v) => v.volume === name)?.fresh === true, `a fresh snapshot from ${source}`, 10_000);
  const first = (await volumes(gateway)).find((v) => v.volume === name)!;
  t.equal(first.source, source, `/status names the source: ${source}`);
  t.ok(first.availableBytes! > 15 * MiB && first.availableBytes! <= 16 * MiB, `the tmpfs's room as ${source} reports it: ${first.availableBytes}`);

  t.equal((await put(gateway, 4 * MiB)).status, 201, 'a write that fits is stored');
  const stored = origin.stats.bodyBytes;
  const tooBig = await put(gateway, 12 * MiB);
  t.equal(tooBig.status, 507, 'a write that does not fit in the room left: 507');
  t.equal(origin.stats.bodyBytes, stored, '0 bytes of it at the origin');

  execFileSync('dd', ['if=/dev/zero', `of=${volume}/filler`, 'bs=1M', 'count=8', 'status=none']);
  const filledAt = Date.now();
  await until(async () => ((await volumes(gateway)).find((v) => v.volume === name)?.availableBytes ?? Infinity) < 5 * MiB, 'the fill to show on /status', 10_000);
  const took = Date.now() - filledAt;
  t.ok(took <= withinMs, `the fill showed ${took} ms after it (at most ${withinMs} ms)`);
  const refused = await put(gateway, 4 * MiB);
  t.equal(refused.status, 507, 'the next write that no longer fits: 507');
  t.equal(origin.stats.bodyBytes, stored, 'and 0 bytes of it at the origin');
}

function withRealParts(t: Test, name: string, binaries: readonly string[], fn: (t: Test) => Promise<void>): void {
  const reason = tmpfsUnavailable();
  if (reason !== null && process.env.CI !== 'true') return void t.test(name, { skip: reason }, async () => undefined);
  withBinaries(t, name, binaries, fn);
}

withRealParts(t, 'node_exporter on the origin host: 507 for what does not fit, and a fill behind the gateway’s back within one scrape', [NODE_EXPORTER], async (t) => {
  const { volume, origin } = await originOnTmpfs(t);
  const exporter = await startNodeExporter(t);
  const gateway = await gatewayFor(t, origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { nodeExporter: { url: `http://${exporter}/metrics`, interval: `${INTERVAL_MS}ms`, timeout: `${TIMEOUT_MS}ms` } } }],
    routes: [{ origin: 'files', volume }],
    policy: { reserve: '1MiB' },
  });
  await acceptance(t, gateway, volume, volume, origin, 'nodeExporter', INTERVAL_MS * 1.1 + TIMEOUT_MS + 200);
});

withRealParts(t, 'Prometheus scraping that node_exporter: the same through its query API; a broken expression is named and the others still used', [NODE_EXPORTER, PROMETHEUS], async (t) => {
  const { volume, origin } = await originOnTmpfs(t);
  const exporter = await startNodeExporter(t);
  const prometheus = await startPrometheus(t, exporter);
  const series = (metric: string) => `${metric}{mountpoint="${volume}"}`;
  const gateway = await gatewayFor(t, origin.url, {
    origins: [{
      name: 'files',
      url: origin.url,
      headroom: {
        prometheus: {
          url: prometheus.url,
          interval: `${INTERVAL_MS}ms`,
          timeout: `${TIMEOUT_MS}ms`,
          volumes: [
            { name: 'data', total: series('node_filesystem_size_bytes'), available: series('node_filesystem_avail_bytes'), totalInodes: series('node_filesystem_files'), freeInodes: series('node_filesystem_files_free') },
            { name: 'broken', total: 'node_filesystem_size_bytes{', available: series('node_filesystem_avail_bytes') },
          ],
        },
      },
    }],
    routes: [{ match: { pathPrefix: '/broken/' }, origin: 'files', volume: 'broken' }, { origin: 'files', volume: 'data' }],
    // Figures are as old as Prometheus's last scrape: fresh for longer than its interval.
    policy: { reserve: '1MiB', staleAfter: '5s' },
  });
  // Through Prometheus, a fill shows after its next scrape, then the gateway's next query.
  await acceptance(t, gateway, volume, 'data', origin, 'prometheus', SCRAPE_MS + INTERVAL_MS * 1.1 + TIMEOUT_MS + 300);

  const broken = (await volumes(gateway)).find((v) => v.volume === 'broken')!;
  t.match(broken.lastError, /^origins\[0\]\.headroom\.prometheus\.volumes\[1\]\.total: Prometheus answered 400 bad_data: .*parse error/, `the broken expression is named: ${broken.lastError}`);
  t.equal(broken.availableBytes, null, 'and its volume has no figures');

  // The snapshot is dated when Prometheus scraped, not when the gateway asked.
  const state = gateway.registry.get('files', 'data')!;
  let scrapedAt = 0;
  await until(async () => {
    const [sample] = await prometheus(`timestamp(${series('node_filesystem_size_bytes')})`);
    scrapedAt = Math.round(Number(sample!.value[1]) * 1000);
    return state.snapshot!.takenAt === scrapedAt;
  }, 'the snapshot to carry the scrape’s time', 5000);
  t.pass(`takenAt is the scrape's time (${new Date(scrapedAt).toISOString()})`);
});
