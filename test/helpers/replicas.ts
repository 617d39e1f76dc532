import type { Test } from 'tap';
import { request, until } from './http.js';
import { spawnGateway, type GatewayProcess } from './process.js';
import type { RedisServer } from './redis.js';

/** What the replicas' tests read of /status. */
export interface ReplicaStatus {
  reservedBytes: number;
  ledger: { state: string; lastError: string | null };
  origins: Array<{ volumes: Array<{ fresh: boolean; snapshotAgeMs: number; reservedBytes: number }> }>;
}

export async function statusOf(gateway: GatewayProcess): Promise<ReplicaStatus> {
  return JSON.parse((await request(`${gateway.adminUrl}/status`)).body.toString()) as ReplicaStatus;
}

/**
 * `count` `headroom proxy` processes (each with `workers`) on one Redis ledger, in front of one
 * origin whose `volume` each measures itself (statfs, 100 ms); resolves once each has a fresh snapshot.
 */
export async function replicas(t: Test, redis: RedisServer, volume: string, originUrl: string, ledger: Record<string, unknown> = {}, { count = 2, workers = 1 } = {}): Promise<GatewayProcess[]> {
  const started: GatewayProcess[] = [];
  for (let i = 0; i < count; i++) {
    const gateway = await spawnGateway({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      via: { pseudonym: `replica-${i}` },
      origins: [{ name: 'dav', url: originUrl, headroom: { local: { paths: [volume], interval: '100ms' } } }],
      routes: [{ origin: 'dav' }],
      policy: { reserve: '1MiB' },
      ledger: { backend: 'redis', url: redis.url, ...ledger },
      workers,
      log: { level: 'info' },
    });
    t.teardown(() => gateway.kill());
    started.push(gateway);
  }
  for (const g of started) await until(async () => (await statusOf(g)).origins[0]?.volumes[0]?.fresh === true, 'a fresh snapshot');
  return started;
}

/** Waits until every replica holds a snapshot measured after now. */
export async function freshSnapshots(gateways: readonly GatewayProcess[]): Promise<void> {
  const after = Date.now();
  for (const g of gateways) await until(async () => Date.now() - (await statusOf(g)).origins[0]!.volumes[0]!.snapshotAgeMs > after, 'a snapshot taken after now');
}
