import { normaliseHost, normalisePath } from '../http/request-target.js';
import type { GatewayConfig, OriginConfig, PluginConfig, RouteConfig } from './types.js';
import { REMOTE_SOURCES, remoteSourceOf } from './types.js';

/** A configuration as far as it could be read: an element with problems of its own is null, in its place. */
export type CheckedConfig = Omit<GatewayConfig, 'origins' | 'routes' | 'plugins'> & {
  readonly origins: ReadonlyArray<OriginConfig | null>;
  readonly routes: ReadonlyArray<RouteConfig | null>;
  readonly plugins: ReadonlyArray<PluginConfig | null>;
};

const METHOD = /^[A-Z][A-Z0-9_-]*$/;
const percent = (share: number): string => `${+(share * 100).toFixed(4)}%`;

/**
 * Rules that span keys; each problem names the key to change. A rule that
 * reads a key `broken` says has a problem of its own is not checked;
 * `names` are the names origin elements give, also those with problems.
 */
export function crossCheck(config: CheckedConfig, broken: (key: string) => boolean, names: ReadonlyArray<string | null>): string[] {
  const problems: string[] = [];
  const { policy, origins, routes } = config;

  if (origins.length === 0 && !broken('origins')) problems.push('origins: at least one origin is needed');
  if (routes.length === 0 && !broken('routes')) problems.push('routes: at least one route is needed');

  const firstByName = new Map<string, number>();
  origins.forEach((origin, i) => {
    if (origin === null) return;
    const first = firstByName.get(origin.name);
    if (first !== undefined) {
      problems.push(`origins[${i}].name: "${origin.name}" is already the name of origins[${first}]`);
    } else {
      firstByName.set(origin.name, i);
    }
    const health = origin.headroom.health;
    if (health && !health.path.startsWith('/')) {
      problems.push(`origins[${i}].headroom.health.path: expected a path starting with "/", got "${health.path}"`);
    }
    for (const key of ['rise', 'fall'] as const) {
      if (health && health[key] < 1) problems.push(`origins[${i}].headroom.health.${key}: expected at least 1, got ${health[key]}`);
    }
    problems.push(...remoteSourceProblems(origin, `origins[${i}].headroom`));
    const local = origin.headroom.local;
    if (local && local.paths.length === 0) problems.push(`origins[${i}].headroom.local.paths: expected at least one path`);
    if (local && local.capacity > 0 && !broken('policy.reserve') && 'bytes' in policy.reserve && policy.reserve.bytes >= local.capacity) {
      problems.push(`policy.reserve: ${policy.reserve.bytes} bytes leaves no room in origins[${i}].headroom.local.capacity (${local.capacity} bytes)`);
    }
  });

  routes.forEach((route, i) => {
    if (route === null) return;
    const prefix = route.match.pathPrefix;
    if (!prefix.startsWith('/')) {
      problems.push(`routes[${i}].match.pathPrefix: expected a path starting with "/", got "${prefix}"`);
    } else {
      // Requests are matched on their normalised path: a prefix in any other spelling would never match.
      const normalised = normalisePath(prefix, 'keep');
      if (normalised !== prefix) {
        problems.push(`routes[${i}].match.pathPrefix: "${prefix}" is matched as requests are, normalised; write it as ${typeof normalised === 'string' ? `"${normalised}"` : 'a plain path'}`);
      }
    }
    const host = route.match.host;
    if (host !== null && (normaliseHost(host) === null || normaliseHost(host) === '')) {
      problems.push(`routes[${i}].match.host: expected a host name or address like "files.example.com", got "${host}"`);
    }
    const at = names.indexOf(route.origin);
    const origin = at < 0 ? undefined : origins[at];
    if (at < 0) {
      const known = names.filter((n) => n !== null).join(', ') || 'none';
      problems.push(`routes[${i}].origin: no origin named "${route.origin}" (origins: ${known})`);
      return;
    }
    if (!origin) return; // that origin has problems of its own
    const remote = remoteSourceOf(origin.headroom);
    if (remote !== null && route.volume === null) {
      problems.push(`routes[${i}].volume: origin "${origin.name}" is measured by ${REMOTE_NAMES[remote]}; name the volume (${REMOTE_VOLUMES[remote]}) this route writes to`);
      return;
    }
    const prometheus = origin.headroom.prometheus;
    const unknown = (name: string | null): boolean => prometheus !== null && remote === 'prometheus' && prometheus.volumes.length > 0 && !prometheus.volumes.some((v) => v.name === name);
    const named = route.volumes === null ? [{ at: `routes[${i}].volume`, name: route.volume }] : route.volumes.map((v, j) => ({ at: `routes[${i}].volumes[${j}].volume`, name: v.volume }));
    const strangers = named.filter((v) => unknown(v.name));
    if (strangers.length > 0) {
      for (const { at, name } of strangers) problems.push(`${at}: "${name}" is not one of origin "${origin.name}"'s headroom.prometheus.volumes (${prometheus!.volumes.map((v) => v.name).join(', ')})`);
      return;
    }
    const local = origin.headroom.local;
    if (!local || remote !== null) return;
    if (route.volumes !== null) {
      route.volumes.forEach(({ volume }, j) => {
        if (!local.paths.includes(volume)) problems.push(`routes[${i}].volumes[${j}].volume: "${volume}" is not one of origin "${origin.name}"'s local paths (${local.paths.join(', ')})`);
      });
    } else if (route.volume !== null && !local.paths.includes(route.volume)) {
      problems.push(`routes[${i}].volume: "${route.volume}" is not one of origin "${origin.name}"'s local paths (${local.paths.join(', ')})`);
    } else if (route.volume === null && local.paths.length > 1) {
      problems.push(`routes[${i}].volume: origin "${origin.name}" has ${local.paths.length} volumes; name the one this route writes to`);
    }
  });

  const marks = !broken('policy.floodStage') && !broken('policy.floodRelease');
  if (marks && policy.floodRelease >= policy.floodStage) {
    problems.push(`policy.floodRelease: must be below policy.floodStage (${percent(policy.floodStage)}), got ${percent(policy.floodRelease)}`);
  }
  if (marks && !broken('policy.reserve') && 'share' in policy.reserve && policy.reserve.share >= policy.floodStage) {
    problems.push(`policy.reserve: ${percent(policy.reserve.share)} is not below policy.floodStage (${percent(policy.floodStage)}); nothing could ever be written`);
  }
  if (!broken('policy.writeMethods')) policy.writeMethods.forEach((method, i) => {
    if (!METHOD.test(method)) problems.push(`policy.writeMethods[${i}]: expected an upper-case HTTP method, got "${method}"`);
  });
  if (!broken('ledger')) problems.push(...ledgerProblems(config.ledger));
  return problems;
}

const REMOTE_NAMES = { agent: 'an agent', nodeExporter: 'node_exporter', prometheus: 'Prometheus' } as const;
const REMOTE_VOLUMES = { agent: 'a mount or path the agent reports', nodeExporter: 'a mountpoint node_exporter reports', prometheus: 'one of headroom.prometheus.volumes' } as const;

/** One remote source at most (each would record its own figures for the same volumes); Prometheus volumes named once each, with PromQL. */
function remoteSourceProblems(origin: OriginConfig, at: string): string[] {
  const problems: string[] = [];
  const given = REMOTE_SOURCES.filter((kind) => origin.headroom[kind] !== null);
  if (given.length > 1) problems.push(`${at}.${given[1]}: origin "${origin.name}" already has headroom.${given[0]}; one source measures an origin's volumes, keep one of ${given.join(', ')}`);
  const prometheus = origin.headroom.prometheus;
  if (!prometheus) return problems;
  if (prometheus.volumes.length === 0) problems.push(`${at}.prometheus.volumes: expected at least one volume ({ name, total, available })`);
  const first = new Map<string, number>();
  prometheus.volumes.forEach((v, j) => {
    const seen = first.get(v.name);
    if (seen !== undefined) problems.push(`${at}.prometheus.volumes[${j}].name: "${v.name}" is already the name of volumes[${seen}]`);
    else first.set(v.name, j);
    for (const key of ['total', 'available', 'totalInodes', 'freeInodes'] as const) {
      if (/^\s+$/.test(v[key])) problems.push(`${at}.prometheus.volumes[${j}].${key}: expected a PromQL expression, got only blanks`);
    }
    if ((v.totalInodes === '') !== (v.freeInodes === '')) problems.push(`${at}.prometheus.volumes[${j}]: give both totalInodes and freeInodes, or neither`);
  });
  return problems;
}

/** A lease longer than this keeps a crashed replica's room for longer than anyone waits (and past Node's timer range). */
const LONGEST_LEASE_MS = 24 * 3600 * 1000;

function ledgerProblems(ledger: GatewayConfig['ledger']): string[] {
  const problems: string[] = [];
  if (ledger.leaseTime > LONGEST_LEASE_MS) problems.push(`ledger.leaseTime: at most a day (24h), got ${ledger.leaseTime} ms`);
  if (ledger.timeout >= ledger.leaseTime) {
    problems.push(`ledger.timeout: must be below ledger.leaseTime (${ledger.leaseTime} ms), got ${ledger.timeout} ms: a question to Redis may not outlast the lease it renews`);
  }
  if (ledger.backend === 'redis' && ledger.url === '' && ledger.sentinel.name === '') {
    problems.push('ledger.url: the redis backend needs the Redis URL, like redis://127.0.0.1:6379/0 (or ledger.sentinel)');
  }
  if (ledger.sentinel.name !== '' && ledger.sentinel.addresses.length === 0) {
    problems.push('ledger.sentinel.addresses: Sentinel needs at least one sentinel, as host:port');
  }
  ledger.sentinel.addresses.forEach((address, i) => {
    if (!/^[^\s:]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(address)) problems.push(`ledger.sentinel.addresses[${i}]: expected host:port, got "${address}"`);
  });
  return problems;
}
