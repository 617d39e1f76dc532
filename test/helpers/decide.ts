import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { startApache, type Apache } from './apache.js';
import { startCaddy } from './caddy.js';
import { configFor, startTestGateway, type RunningGateway } from './gateway.js';
import { freePort, request, until } from './http.js';
import { countingRelay, type CountingRelay } from './tcp-relay.js';
import { mountTmpfs } from './tmpfs.js';

const DOC = path.resolve(import.meta.dirname, '../../docs/decision-endpoint.md');

/** The documented snippet for `language` (the first ```language block of docs/decision-endpoint.md), as users copy it. */
export function documentedSnippet(language: 'nginx' | 'caddyfile'): string {
  const text = readFileSync(DOC, 'utf8');
  const block = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(text);
  if (!block) throw new Error(`docs/decision-endpoint.md has no ${language} snippet`);
  return block[1]!;
}

/** Replaces `from` in `text`, which must be there: a snippet that changed shape fails the test, not silently passes. */
export function replaced(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the snippet no longer contains "${from}"`);
  return text.split(from).join(to);
}

export interface DecideSetup {
  /** The Apache DAV volume: a 16 MiB tmpfs. */
  readonly volume: string;
  readonly apache: Apache;
  /** Counts what the proxy sends to Apache. */
  readonly toApache: CountingRelay;
  /** Counts what the proxy sends to the decision endpoint. */
  readonly toDecide: CountingRelay;
  /** The UDP port the endpoint takes syslog end signals on. */
  readonly syslogPort: number;
  readonly gateway: RunningGateway;
  /** The gateway's reserved bytes on the volume, and the endpoint's open leases. */
  held(): Promise<{ reservedBytes: number; leases: number }>;
}

/**
 * Apache on a 16 MiB tmpfs behind a counting relay, and a gateway whose
 * only client is its decision endpoint (the decide plugin, loaded from
 * config), behind a counting relay of its own.
 */
export async function decideSetup(t: Test, options: Record<string, unknown> = {}, more: Record<string, unknown> = {}): Promise<DecideSetup> {
  const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  const toApache = await countingRelay(apache.port);
  t.teardown(() => toApache.close());
  const config = configFor(apache.url, {
    origins: [{ name: 'files', url: apache.url, headroom: { local: { paths: [volume], interval: '200ms' } } }],
    routes: [{ match: { pathPrefix: '/' }, origin: 'files', volume }],
    plugins: [{ name: 'decide', options: { listen: { host: '127.0.0.1', port: 0 }, syslog: { port: 0 }, ...options } }],
    ...more,
  });
  const gateway = await startTestGateway(config);
  t.teardown(() => gateway.shutdown());
  const admin = `http://127.0.0.1:${gateway.adminAddress.port}`;
  const plugin = async (): Promise<{ listen: { port: number }; syslog: { port: number }; leases: number }> => JSON.parse((await request(`${admin}/plugins/decide/`)).body.toString());
  const endpoint = await plugin();
  const toDecide = await countingRelay(endpoint.listen.port);
  t.teardown(() => toDecide.close());
  const held = async (): Promise<{ reservedBytes: number; leases: number }> => {
    const status = JSON.parse((await request(`${admin}/status`)).body.toString());
    return { reservedBytes: status.origins[0].volumes[0].reservedBytes, leases: (await plugin()).leases };
  };
  await until(async () => JSON.parse((await request(`${admin}/status`)).body.toString()).origins[0].volumes[0].snapshotAgeMs !== null, 'a first snapshot');
  return { volume, apache, toApache, toDecide, syslogPort: endpoint.syslog.port, gateway, held };
}

/** Caddy with the documented snippet, asking `setup`'s endpoint and forwarding to its Apache; resolves with its port. */
export async function documentedCaddy(t: Test, setup: DecideSetup): Promise<number> {
  const port = await freePort();
  let sites = documentedSnippet('caddyfile');
  sites = replaced(sites, '127.0.0.1:9191', `127.0.0.1:${new URL(setup.toDecide.url).port}`);
  sites = replaced(sites, '127.0.0.1:8000', `127.0.0.1:${new URL(setup.toApache.url).port}`);
  sites = replaced(sites, ':8080 {', `http://127.0.0.1:${port} {`);
  const caddy = await startCaddy(sites, port);
  t.teardown(() => caddy.close());
  return port;
}

/** Leases far longer than a test: whatever ends one is not its time. */
export const LONG_LEASES = { minRate: '1KiB', lease: { min: '10m', max: '1h' } };

/** Waits for a snapshot of the setup's volume whose measurement started after now. */
export async function nextSnapshot(setup: DecideSetup): Promise<void> {
  const after = Date.now();
  const admin = `http://127.0.0.1:${setup.gateway.adminAddress.port}`;
  await until(async () => {
    const before = Date.now();
    const volume = JSON.parse((await request(`${admin}/status`)).body.toString()).origins[0].volumes[0];
    return volume.snapshotAgeMs !== null && before - volume.snapshotAgeMs > after;
  }, 'a snapshot taken after now');
}
