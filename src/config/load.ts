import path from 'node:path';
import convict from 'convict';
import { readConfigFile } from './file.js';
import {
  agentSourceSchema,
  gatewaySchema,
  healthSchema,
  localSourceSchema,
  nodeExporterSourceSchema,
  originSchema,
  pluginSchema,
  prometheusSourceSchema,
  prometheusVolumeSchema,
  required,
  routeSchema,
  withEnvAndArgs,
} from './schema.js';
import { problemLines, validateSection } from './section.js';
import { checkStructure } from './structure.js';
import { validatedValues, type ConfigOf } from './shape.js';
import { crossCheck, type CheckedConfig } from './cross-check.js';
import type {
  GatewayConfig,
  OriginConfig,
  PluginConfig,
  PrometheusSourceConfig,
  RouteConfig,
  RouteVolumeConfig,
} from './types.js';
import { remoteSourceOf } from './types.js';

export interface ConfigSource {
  /** A YAML or JSON file; null = `values`, environment and flags only. */
  readonly file: string | null;
  /** Values to use in place of a file (for embedding and tests). */
  readonly values?: Readonly<Record<string, unknown>>;
  readonly env?: NodeJS.ProcessEnv;
  /** `--key value` flags, as on the command line. */
  readonly args?: readonly string[];
}

export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; problems: string[] };

const gatewayWithOverrides = withEnvAndArgs(gatewaySchema);

/** Every `--flag` the gateway's configuration accepts. */
export const gatewayFlags: ReadonlySet<string> = new Set(collectArgs(gatewayWithOverrides));

function collectArgs(node: object): string[] {
  return Object.values(node).flatMap((child: object) =>
    'arg' in child ? [String(child.arg)] : collectArgs(child),
  );
}

type Raw = Record<string, unknown>;

/** Loads, validates and types the gateway's configuration; never throws. */
export function loadGatewayConfig(source: ConfigSource): ConfigResult {
  let data: Raw = { ...source.values };
  if (source.file !== null) {
    const read = readConfigFile(source.file);
    if (!read.ok) return read;
    data = read.data;
  }
  const top = convict(gatewayWithOverrides, {
    env: source.env ?? process.env,
    args: [...(source.args ?? [])],
  });
  const structure = checkStructure(gatewaySchema, data, '');
  const problems: string[] = [...structure.problems];
  try {
    top.load(structure.cleaned);
    top.validate({ allowed: 'strict' });
  } catch (err) {
    problems.push(...problemLines((err as Error).message, ''));
  }

  const raw = validatedValues(top, gatewaySchema);
  const baseDir = source.file === null ? process.cwd() : path.dirname(path.resolve(source.file));
  const origins = eachElement(raw.origins, 'origins', (el, at) => readOrigin(el, at, baseDir, problems));
  const routes = eachElement(raw.routes, 'routes', (el, at) => readRoute(el, at, problems));
  const plugins = eachElement(raw.plugins, 'plugins', (el, at) => readPlugin(el, at, baseDir, problems));

  // The rules across keys run on what could be read, so that one run names
  // every problem: a key (or element) with a problem of its own is left out
  // of them rather than reported twice.
  const found = [...problems];
  const broken = (key: string): boolean => found.some((p) => p.startsWith(key) && /^[:.[]/.test(p.slice(key.length)));
  const valid = <T>(list: ReadonlyArray<T | null>): T[] => list.filter((x): x is T => x !== null);
  const candidate: CheckedConfig = {
    ...raw,
    origins,
    routes: routes.map((r) => r && resolveRouteVolume(r, valid(origins), baseDir)),
    plugins,
  };
  problems.push(...crossCheck(candidate, broken, originNames(raw.origins)));
  if (problems.length) return { ok: false, problems };
  return { ok: true, config: { ...candidate, origins: valid(origins), routes: valid(candidate.routes), plugins: valid(plugins) } };
}

/** Each element read, or null where it has problems of its own (reported by `read`); indexes kept. */
function eachElement<T>(list: unknown, key: string, read: (el: unknown, at: string) => T | null): Array<T | null> {
  return Array.isArray(list) ? list.map((el, i) => read(el, `${key}[${i}]`)) : [];
}

/** The name each origin element gives, valid or not: a route naming an origin with problems of its own is not a second problem. */
function originNames(list: unknown): ReadonlyArray<string | null> {
  if (!Array.isArray(list)) return [];
  return list.map((el: unknown) => (typeof el === 'object' && el !== null && typeof (el as Raw).name === 'string' ? ((el as Raw).name as string) : null));
}

function take<S extends convict.Schema<unknown>>(schema: S, value: unknown, at: string, keys: readonly string[], problems: string[]): ConfigOf<S> | null {
  const result = validateSection(schema, value, at, keys);
  problems.push(...result.problems);
  return result.value;
}

function readOrigin(el: unknown, at: string, baseDir: string, problems: string[]): OriginConfig | null {
  const before = problems.length;
  const origin = take(originSchema, el, at, required.origin, problems);
  if (origin === null) return null;
  const { agent, local, health, nodeExporter, prometheus } = origin.headroom;
  const headroomAt = `${at}.headroom`;
  // A section that is not a mapping was reported with the origin itself.
  const section = <S extends convict.Schema<unknown>>(value: unknown, schema: S, key: string, keys: readonly string[]): ConfigOf<S> | null =>
    typeof value === 'object' && value !== null ? take(schema, value, `${headroomAt}.${key}`, keys, problems) : null;
  const agentConfig = section(agent, agentSourceSchema, 'agent', required.agent);
  const localRaw = section(local, localSourceSchema, 'local', required.local);
  const healthConfig = section(health, healthSchema, 'health', []);
  const nodeExporterConfig = section(nodeExporter, nodeExporterSourceSchema, 'nodeExporter', required.nodeExporter);
  const prometheusRaw = section(prometheus, prometheusSourceSchema, 'prometheus', required.prometheus);
  const prometheusVolumes = prometheusRaw && eachElement(prometheusRaw.volumes, `${headroomAt}.prometheus.volumes`, (v, vat) => take(prometheusVolumeSchema, v, vat, required.prometheusVolume, problems));
  if (problems.length > before) return null; // a section with problems: the origin is left out of the rules across keys
  const localConfig = localRaw && { ...localRaw, paths: localRaw.paths.map((p) => path.resolve(baseDir, p)) };
  const prometheusConfig: PrometheusSourceConfig | null = prometheusRaw && { ...prometheusRaw, url: prometheusRaw.url.replace(/\/+$/, ''), volumes: prometheusVolumes!.filter((v) => v !== null) };
  return {
    ...origin,
    url: origin.url.replace(/\/+$/, ''),
    headroom: { agent: agentConfig, local: localConfig, health: healthConfig, nodeExporter: nodeExporterConfig, prometheus: prometheusConfig },
  };
}

function readPlugin(el: unknown, at: string, configDir: string, problems: string[]): PluginConfig | null {
  // The options are the plugin's schema's to validate, once it is loaded;
  // convict would walk into nested ones (`listen: { host, port }`) and fail.
  const given = typeof el === 'object' && el !== null && !Array.isArray(el) ? (el as Record<string, unknown>) : null;
  const options = given?.options;
  const plugin = take(pluginSchema, given === null ? el : { ...given, options: {} }, at, required.plugin, problems);
  if (plugin === null) return null;
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
    problems.push(`${at}.options: expected a mapping of keys to values, got ${JSON.stringify(options)}`);
    return null;
  }
  if (plugin.name === '' && plugin.module === '') {
    problems.push(`${at}.name: missing; name a first-party plugin (tenant-quota, decide), or give module: the file or package that exports one`);
    return null;
  }
  return { ...plugin, options: (options ?? {}) as PluginConfig['options'], configDir };
}

function readRoute(el: unknown, at: string, problems: string[]): RouteConfig | null {
  const route = take(routeSchema, el, at, required.route, problems);
  if (route === null || route.volumes === null) return route as RouteConfig | null;
  if (route.volume !== null) {
    problems.push(`${at}.volumes: give either volume (the one volume the route writes to) or volumes (every volume its writes need, the target first), not both`);
    return null;
  }
  const entries = route.volumes as unknown[];
  if (entries.length === 0) {
    problems.push(`${at}.volumes: an empty list; name every volume the route's writes need, the target first, or leave the key out`);
    return null;
  }
  const volumes = entries.map((entry, i) => readRouteVolume(entry, `${at}.volumes[${i}]`, problems));
  if (volumes.some((v) => v === null)) return null;
  if (volumes[0]!.share !== 1) {
    problems.push(`${at}.volumes[0].share: the first volume is the target, which stores the whole body; a share there must be 1, got ${volumes[0]!.share}`);
    return null;
  }
  const names = volumes.map((v) => v!.volume);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) {
    problems.push(`${at}.volumes: "${twice}" is listed twice; list each volume once, with the share of the body it needs`);
    return null;
  }
  return { ...route, volume: names[0]!, volumes: volumes as RouteVolumeConfig[] };
}

/** `{ volume, share }`, or a plain name for `{ volume: name, share: 1 }`. */
function readRouteVolume(entry: unknown, at: string, problems: string[]): RouteVolumeConfig | null {
  if (typeof entry === 'string' && entry !== '') return { volume: entry, share: 1 };
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    problems.push(`${at}: expected a volume's name, or { volume, share }, got ${JSON.stringify(entry)}`);
    return null;
  }
  const { volume, share = 1, ...rest } = entry as Record<string, unknown>;
  const before = problems.length;
  for (const key of Object.keys(rest)) problems.push(`${at}.${key}: unknown key (a route's volume takes volume and share)`);
  if (typeof volume !== 'string' || volume === '') problems.push(`${at}.volume: expected the volume's name (a local path, or a mount the source reports), got ${JSON.stringify(volume)}`);
  if (typeof share !== 'number' || !Number.isFinite(share) || share <= 0) problems.push(`${at}.share: expected a number above 0 (1: the whole body), got ${JSON.stringify(share)}`);
  return problems.length > before ? null : { volume: volume as string, share: share as number };
}

/** A route's volume on a locally read origin is a path, resolved as the origin's paths are. */
function resolveRouteVolume(route: RouteConfig, origins: readonly OriginConfig[], baseDir: string): RouteConfig {
  const origin = origins.find((o) => o.name === route.origin);
  if (!origin?.headroom.local || remoteSourceOf(origin.headroom) !== null || route.volume === null) return route;
  const volumes = route.volumes?.map((v) => ({ ...v, volume: path.resolve(baseDir, v.volume) })) ?? null;
  return { ...route, volume: path.resolve(baseDir, route.volume), volumes };
}
