import path from 'node:path';
import { directoriesIn, usageUnder, type Admission, type Constraint, type Exchange, type PluginContext, type PluginInstance, type Problem, type QuotaShown, type RoomGuard, type RoomStatus } from '../../src/index.js';
import { quotaOf, readQuotaFile, tenantNameProblem, type Quotas } from './quota-file.js';
import { quotaProblem, unknownTenantProblem } from './refusals.js';
import { tenantSource, type SourceKind, type Tenant, type TenantOf, type TenantSourceOptions } from './tenant-source.js';
import { TenantTelemetry } from './telemetry.js';
import { AgentUsage, type AgentUsageOptions } from './agent-usage.js';

/** The plugin's options, as its schema validates them. */
export interface TenantQuotaOptions {
  readonly tenant: TenantSourceOptions;
  readonly unknownTenant: 'refuse' | 'pass';
  readonly quotas: string;
  readonly usage: {
    readonly source: 'walk' | 'agent';
    readonly root: string;
    readonly interval: number;
    readonly staleAfter: number;
    readonly agent: { readonly url: string; readonly token: string; readonly timeout: number; readonly maxAnswerSize: number };
  };
  readonly tenantLabels: number;
}

/** What the options come to once files are read: swapped whole by a reload. */
interface Settings {
  readonly from: SourceKind;
  /** What a refusal of an unknown tenant names: the path pattern or the header. */
  readonly where: string;
  readonly tenantOf: TenantOf;
  readonly quotas: Quotas;
  readonly unknownTenant: 'refuse' | 'pass';
  /** For the walk: the directory holding a directory per tenant, here. */
  readonly root: string;
  readonly interval: number;
  readonly staleAfter: number;
  /** For the agent source; null for the walk. */
  readonly agent: AgentUsageOptions | null;
}

async function settingsOf(options: TenantQuotaOptions, context: PluginContext): Promise<Settings> {
  const file = path.resolve(context.configDir, options.quotas);
  const read = await readQuotaFile(file);
  if (!read.ok) throw new Error(read.problems.join('; '));
  const tenantOf = await tenantSource(options.tenant, { configDir: context.configDir, trusts: context.trusts });
  return {
    from: options.tenant.from,
    where: options.tenant.from === 'path' ? options.tenant.path : options.tenant.header,
    tenantOf,
    quotas: read.quotas,
    unknownTenant: options.unknownTenant,
    root: path.resolve(context.configDir, options.usage.root),
    interval: options.usage.interval,
    staleAfter: options.usage.staleAfter,
    agent:
      options.usage.source === 'agent'
        ? { ...options.usage.agent, maxAnswerBytes: options.usage.agent.maxAnswerSize, root: options.usage.root, interval: options.usage.interval, staleAfter: options.usage.staleAfter }
        : null,
  };
}

/**
 * A tenant quota: each write's tenant is told by the configured source,
 * and judged against its quota by a room guard (after the storage guard,
 * so the volume's room still applies). Usage is the bytes stored under the
 * tenant's directory: walked here every `usage.interval`, or as an agent on
 * the origin's host reports it.
 */
export async function startTenantQuota(context: PluginContext, options: TenantQuotaOptions): Promise<PluginInstance<TenantQuotaOptions>> {
  let settings = await settingsOf(options, context);
  /** The tenants each write judged is about, by the path asked about (its own and, for COPY or MOVE, its Destination's). */
  const told = new WeakMap<Exchange, ReadonlyMap<string, Tenant>>();
  /** Tenants written to since the last round, so a tenant with no directory yet is measured too. */
  const seen = new Set<string>();
  /** Tenants there are; those with figures are listed by the admin route and the metrics. */
  let measuredTenants = new Set<string>();

  const roomOf = (exchange: Exchange, at: string): string | null | Problem => {
    const tenant = told.get(exchange)?.get(at) ?? null;
    if (tenant === null) return settings.unknownTenant === 'refuse' ? unknownTenantProblem(settings.from, settings.where) : null;
    if (typeof tenant !== 'string') return tenant;
    return quotaOf(settings.quotas, tenant) === null ? null : tenant;
  };

  const guard: RoomGuard = context.roomGuard({
    name: 'tenant-quota',
    roomOf,
    get staleAfter() {
      return settings.staleAfter;
    },
    refusal: quotaProblem,
  });
  const figures = (): RoomStatus[] => [...measuredTenants].map((t) => guard.status(t)).filter((s) => s !== null);
  const telemetry = new TenantTelemetry(context, options.tenantLabels, settings.quotas, figures);

  /** One measurement per tenant at a time; a reload starts afresh (its quotas are new). */
  let inFlight = new Map<string, Promise<void>>();
  const measure = (tenant: string): Promise<void> => {
    const running = inFlight.get(tenant);
    if (running) return running;
    const { quotas, root } = settings;
    const flights = inFlight;
    const done = guard
      .measure(tenant, async () => ({ totalBytes: quotaOf(quotas, tenant) ?? 0, usedBytes: (await usageUnder(path.join(root, tenant))).bytes }))
      .catch((err: Error) => context.logger.warn({ msg: 'tenant usage measurement failed', tenant, error: err.message }))
      .finally(() => flights.delete(tenant));
    flights.set(tenant, done);
    return done;
  };

  /** Every tenant there is: named in the file, written to lately, or `found` (a directory, or in the agent's report). */
  const tenantsOf = (found: Iterable<string>): string[] => {
    const { quotas } = settings;
    const names = new Set([...quotas.tenants.keys(), ...seen, ...found]);
    seen.clear();
    return [...names].filter((t) => tenantNameProblem(t) === null && quotaOf(quotas, t) !== null);
  };
  /** Forgets the figures of tenants no longer there. */
  const keepOnly = (tenants: readonly string[]): void => {
    const keep = new Set(tenants);
    guard.retain((t) => keep.has(t) || seen.has(t));
    measuredTenants = new Set([...keep, ...seen]);
  };

  /** Walks every tenant there is. */
  const round = async (): Promise<void> => {
    const tenants = tenantsOf(await directoriesIn(settings.root).catch(() => []));
    // One at a time: a round is a background walk, not a burst of I/O.
    for (const tenant of tenants) await measure(tenant);
    keepOnly(tenants);
  };

  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  /** The agent source, when it is the one configured. */
  let agentUsage: AgentUsage | null = null;
  /** Bumped by each (re)start of the usage source, so a walk loop of settings replaced ends. */
  let generation = 0;
  const schedule = (gen: number): void => {
    if (closed || gen !== generation) return;
    timer = setTimeout(() => void round().finally(() => schedule(gen)), settings.interval);
    timer.unref();
  };
  /** Starts the configured source; `fresh` when this instance has judged no write yet (at its start). */
  const startUsage = async (fresh: boolean): Promise<void> => {
    const gen = ++generation;
    if (timer) clearTimeout(timer);
    agentUsage?.close();
    agentUsage = null;
    if (settings.agent === null) {
      await round();
      return schedule(gen);
    }
    agentUsage = new AgentUsage(settings.agent, {
      measure: (tenant, read) => guard.measure(tenant, read),
      totalOf: (tenant) => quotaOf(settings.quotas, tenant),
      tenants: (reported) => {
        const tenants = tenantsOf(reported);
        keepOnly(tenants);
        return tenants;
      },
      logger: context.logger,
    });
    await agentUsage.start(fresh);
  };
  await startUsage(true);

  /** The tenants of a write, read before it is judged (a token's verification is asynchronous). */
  const admit = (exchange: Exchange): Admission | Promise<Admission> => {
    const { req } = exchange;
    if (!context.config().policy.writeMethods.includes(req.method!)) return undefined;
    const facts = { headers: req.headers, remoteAddress: req.socket.remoteAddress };
    const paths = exchange.destination === null ? [exchange.path] : [exchange.destination.path, exchange.path];
    const { from, tenantOf } = settings;
    // Only a path names a tenant of its own; the other sources name the request's, read once.
    const once = from === 'path' ? null : tenantOf(facts, exchange.path);
    const found = paths.map((at) => once ?? tenantOf(facts, at));
    if (found.some((t) => t instanceof Promise)) return Promise.all(found).then((tenants) => judge(exchange, paths, tenants));
    return judge(exchange, paths, found as Tenant[]);
  };

  const judge = (exchange: Exchange, paths: readonly string[], tenants: readonly Tenant[]): Admission | Promise<Admission> => {
    told.set(exchange, new Map(paths.map((at, i) => [at, tenants[i]!])));
    const tenant = tenants[0]!;
    if (typeof tenant !== 'string' || quotaOf(settings.quotas, tenant) === null) return settle(exchange, null);
    telemetry.onSpan(exchange, tenant);
    seen.add(tenant);
    // A tenant not measured yet (new since the last round) is measured before its first write is judged
    // by the walk; the agent's figures come with a later poll, and until then policy.onUnknown applies.
    if (guard.status(tenant) === null && agentUsage !== null) agentUsage.want(tenant);
    else if (guard.status(tenant) === null) {
      return measure(tenant).then(() => {
        measuredTenants.add(tenant);
        return settle(exchange, tenant);
      });
    }
    return settle(exchange, tenant);
  };

  const settle = (exchange: Exchange, tenant: string | null): Admission | Promise<Admission> => {
    const admission = guard.constraint.admit(exchange);
    if (admission instanceof Promise) return admission.then((a) => telemetry.judged(tenant, a));
    return telemetry.judged(tenant, admission);
  };

  /**
   * A PROPFIND's quota properties show the tenant's own room, while its
   * figures are fresh. Only a tenant told at once (a path, a header, the
   * Basic user): a token's verification is asynchronous, and the answer's
   * figures are filled as it streams.
   */
  const quota = (exchange: Exchange): QuotaShown | null => {
    const tenant = settings.tenantOf({ headers: exchange.req.headers, remoteAddress: exchange.req.socket.remoteAddress }, exchange.path);
    if (typeof tenant !== 'string' || quotaOf(settings.quotas, tenant) === null) return null;
    const shown = guard.status(tenant);
    return shown === null || shown.snapshotAgeMs > settings.staleAfter ? null : { availableBytes: shown.availableBytes, usedBytes: shown.usedBytes };
  };

  const constraint: Constraint = { name: 'tenant-quota', admit, quota };

  return {
    constraints: [constraint],
    adminRoutes: [
      {
        path: '/',
        handle: (_req, res) => {
          const body = JSON.stringify({
            tenants: figures().map(({ room, ...rest }) => ({ tenant: room, ...rest })),
            default: settings.quotas.default,
          });
          const text = Buffer.from(`${body}\n`);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length, 'cache-control': 'no-store' });
          res.end(text);
        },
      },
    ],
    reload: async (next) => {
      settings = await settingsOf(next, context);
      inFlight = new Map();
      telemetry.configure(next.tenantLabels, settings.quotas);
      // Every tenant again with the new quotas, so the next write is judged by them (the agent's: by its next figures).
      await startUsage(false);
    },
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      agentUsage?.close();
    },
  };
}
