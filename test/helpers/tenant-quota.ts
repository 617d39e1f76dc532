import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { configFor, startTestGateway, type RunningGateway } from './gateway.js';
import type { ReloadResult } from '../../src/gateway/gateway.js';
import type { GatewayConfig } from '../../src/config/types.js';

/** A config dir holding a quota file (`quotas.yaml`) and a usage root (`tenants/`); removed when the test ends. */
export function tenantConfigDir(t: Test, quotas: string): { dir: string; root: string; writeQuotas(text: string): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-tenant-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'tenants');
  mkdirSync(root);
  const writeQuotas = (text: string): void => writeFileSync(path.join(dir, 'quotas.yaml'), text);
  writeQuotas(quotas);
  return { dir, root, writeQuotas };
}

export interface TenantGateway {
  readonly gateway: RunningGateway;
  /** Reloads the configuration, the plugin with `options` (or the same as before), as SIGHUP would. */
  reload(options?: Record<string, unknown>): Promise<ReloadResult>;
}

/**
 * A gateway in front of `originUrl` configured by `values`, with
 * `plugins: [{ name: tenant-quota, options }]` whose relative paths are
 * resolved from `configDir` (as from a configuration file's directory).
 */
export async function tenantGateway(t: Test, originUrl: string, configDir: string, options: Record<string, unknown>, values: Record<string, unknown> = {}): Promise<TenantGateway> {
  const configWith = (opts: Record<string, unknown>): GatewayConfig => {
    const config = configFor(originUrl, { ...values, plugins: [{ name: 'tenant-quota', options: opts }] });
    return { ...config, plugins: config.plugins.map((p) => ({ ...p, configDir })) };
  };
  const first = configWith(options);
  let next = first;
  const gateway = await startTestGateway(first, { load: () => ({ ok: true, config: next }) });
  t.teardown(() => gateway.shutdown());
  return {
    gateway,
    reload: (opts = options) => {
      const c = configWith(opts);
      next = { ...c, listen: first.listen, admin: first.admin };
      return gateway.reload();
    },
  };
}
