import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { configFor, startTestGateway, type RunningGateway } from './gateway.js';
import { MemoryLedger } from '../../src/ledger/memory-ledger.js';
import { roomGuard } from '../../src/admission/room-guard.js';
import type { PluginContext, PluginInstance } from '../../src/plugin/plugin.js';
import { createLogger } from '../../src/log/log.js';
import tenantQuota from '../../plugins/tenant-quota/index.js';

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
  reload(options: Record<string, unknown>): Promise<void>;
}

/**
 * A gateway in front of `originUrl` with the tenant-quota plugin and `options`.
 * TEMPORARY until plugins load from config: the plugin is started here by hand.
 */
export async function tenantGateway(t: Test, originUrl: string, configDir: string, options: Record<string, unknown>, values: Record<string, unknown> = {}): Promise<TenantGateway> {
  const config = configFor(originUrl, values);
  const ledger = new MemoryLedger();
  const { tenant, usage, ...rest } = options as { tenant?: { jwt?: object }; usage?: object };
  const full = {
    unknownTenant: 'refuse',
    tenantLabels: 0,
    ...rest,
    tenant: { from: 'path', path: '/{tenant}/', header: 'X-Remote-User', ...tenant, jwt: { jwks: '', claim: 'sub', issuer: '', audience: '', ...tenant?.jwt } },
    usage: { interval: 10_000, staleAfter: 60_000, ...usage },
  } as never;
  const problems = await tenantQuota.check!(full, { configDir });
  if (problems.length > 0) throw new Error(problems.join('\n'));
  let current = config;
  const context: PluginContext = {
    configDir,
    logger: createLogger('silent'),
    config: () => current,
    status: () => { throw new Error('not in the harness'); },
    ledger,
    check: () => { throw new Error('not in the harness'); },
    roomGuard: (o) => roomGuard('tenant-quota', o, { ledger, policy: () => current.policy }),
    tracer: null,
    meter: null,
  };
  const instance: PluginInstance<never> = await tenantQuota.start(context, full);
  t.teardown(() => instance.close?.());
  const gateway = await startTestGateway(config, { constraints: instance.constraints ?? [], ledger });
  t.teardown(() => gateway.shutdown());
  current = config;
  return { gateway, reload: async (next) => instance.reload!({ ...(full as object), ...next } as never) };
}
