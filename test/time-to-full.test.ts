import t from 'tap';
import { startSampleOrigin } from '../src/demo/sample-origin.js';
import type { GatewayStatus, VolumeStatus } from '../src/admin/status.js';
import { gatewayFor } from './helpers/gateway.js';
import { request, until } from './helpers/http.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

const MiB = 1024 * 1024;

withTmpfs(t, 'a volume filling in steps: /status and /metrics show a positive rate and a time to flood stage that shrinks', async (t) => {
  const dir = mountTmpfs(t, 'size=16m');
  const origin = await startSampleOrigin(dir);
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [dir], interval: '100ms' } } }],
    policy: { reserve: '1MiB', floodStage: '90%', floodRelease: '80%' },
    log: { level: 'silent' },
  });
  const admin = `http://127.0.0.1:${gateway.adminAddress.port}`;
  const volume = async (): Promise<VolumeStatus> => {
    const status = JSON.parse((await request(`${admin}/status`)).body.toString()) as GatewayStatus;
    return status.origins[0]!.volumes[0]!;
  };
  await until(async () => (await volume()).history.length >= 1, 'a first snapshot');
  const base = (await volume()).history[0]![1];
  t.equal((await volume()).secondsToFloodStage, null, 'nothing to project from yet');

  /** Writes one more MiB, then waits until three snapshots show it: steps of even length, as a steady writer makes. */
  const step = async (k: number): Promise<VolumeStatus> => {
    t.equal((await request(`${gateway.url}/step-${k}.bin`, { method: 'PUT', headers: { 'content-length': String(MiB) } }, Buffer.alloc(MiB, k))).status, 201, `step ${k} stored`);
    let seen: VolumeStatus | null = null;
    await until(async () => {
      seen = await volume();
      return seen.history.filter(([, used]) => used >= base + k * MiB).length >= 3;
    }, `three snapshots showing step ${k}`);
    return seen!;
  };
  await step(1);
  const early = await step(2);
  t.ok(early.growthBytesPerSecond! > 0, `a positive rate after 2 steps (${(early.growthBytesPerSecond! / MiB).toFixed(2)} MiB/s)`);
  t.ok(Number.isFinite(early.secondsToFloodStage) && early.secondsToFloodStage! > 0, `a finite time to flood stage (${early.secondsToFloodStage!.toFixed(1)} s)`);
  t.equal(early.growthNote, null);
  for (let k = 3; k <= 8; k++) await step(k);
  const later = await step(9);
  t.ok(later.growthBytesPerSecond! > 0, 'still growing');
  t.ok(later.history.length <= 32, `a bounded history (${later.history.length} points)`);
  t.ok(later.secondsToFloodStage! < early.secondsToFloodStage!, `the time to flood stage shrinks: ${early.secondsToFloodStage!.toFixed(1)} s, then ${later.secondsToFloodStage!.toFixed(1)} s`);

  const metrics = (await request(`${admin}/metrics`)).body.toString();
  const labels = `origin="files",volume="${dir}"`;
  const gauge = (name: string): number => Number(new RegExp(`^${name}\\{${labels.replace(/[/.]/g, '\\$&')}\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  t.ok(gauge('headroom_volume_growth_bytes_per_second') > 0, `headroom_volume_growth_bytes_per_second is on /metrics (${gauge('headroom_volume_growth_bytes_per_second')})`);
  const toFlood = gauge('headroom_volume_seconds_to_flood_stage');
  t.ok(toFlood > 0 && toFlood <= early.secondsToFloodStage!, `headroom_volume_seconds_to_flood_stage is on /metrics (${toFlood})`);

  const page = (await request(`${admin}/`)).body.toString();
  t.match(page, /<svg class="history"/, 'the status page draws the history');
  t.match(page, /flood stage in <b>about \d+ (second|minute)s?<\/b> · growing/, 'and says the time to flood stage');
});
