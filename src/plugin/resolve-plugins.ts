import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Schema } from 'convict';
import type { PluginConfig } from '../config/types.js';
import { validateSection } from '../config/section.js';
import { FIRST_PARTY } from './first-party.js';
import type { Plugin } from './plugin.js';

/** A plugin entry of the configuration, its code loaded and its options validated. */
export interface ResolvedPlugin {
  readonly plugin: Plugin;
  readonly options: unknown;
  readonly configDir: string;
}

export type ResolveResult = { ok: true; plugins: ResolvedPlugin[] } | { ok: false; problems: string[] };

/**
 * Loads each `plugins[]` entry's code — a first-party plugin by `name`, or
 * the default export of `module` (a path from the configuration's
 * directory, or a package name) — and validates its options against the
 * plugin's own schema and checks: every problem is one line naming its
 * key (`plugins[0].options.file: …`). Never throws.
 */
export async function resolvePlugins(entries: readonly PluginConfig[]): Promise<ResolveResult> {
  const problems: string[] = [];
  const plugins: ResolvedPlugin[] = [];
  const seen = new Map<string, number>();
  for (const [i, entry] of entries.entries()) {
    const at = `plugins[${i}]`;
    const loaded = await load(entry, at);
    if (typeof loaded === 'string') {
      problems.push(loaded);
      continue;
    }
    const name = loaded.name;
    if (entry.name !== '' && entry.module !== '' && entry.name !== name) {
      problems.push(`${at}.name: the module ${entry.module} is the plugin "${name}", not "${entry.name}"; leave name out, or make it match`);
      continue;
    }
    const before = seen.get(name);
    if (before !== undefined) {
      problems.push(`${at}.name: the plugin "${name}" is already listed as plugins[${before}]; list each plugin once`);
      continue;
    }
    seen.set(name, i);
    const validated = validateSection((loaded.options ?? {}) as Schema<unknown>, entry.options ?? {}, `${at}.options`, loaded.requiredOptions ?? []);
    if (validated.problems.length > 0) {
      problems.push(...validated.problems);
      continue;
    }
    let checked: readonly string[];
    try {
      checked = (await loaded.check?.(validated.value as never, { configDir: entry.configDir })) ?? [];
    } catch (err) {
      checked = [`: the plugin's check failed: ${(err as Error).message}`];
    }
    if (checked.length > 0) {
      problems.push(...checked.map((line) => `${at}.options${line.startsWith(':') ? '' : '.'}${line}`));
      continue;
    }
    plugins.push({ plugin: loaded, options: validated.value, configDir: entry.configDir });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, plugins };
}

/** The entry's plugin, or the problem line that says why it could not be had. */
async function load(entry: PluginConfig, at: string): Promise<Plugin | string> {
  let url: string;
  let key: string;
  if (entry.module !== '') {
    key = `${at}.module`;
    const where = locate(entry.module, entry.configDir);
    if (where === null) return `${key}: no file or package "${entry.module}" from ${entry.configDir}; give a path (./plugin.mjs, relative to the configuration file) or an installed package's name`;
    url = where;
  } else {
    key = `${at}.name`;
    const firstParty = FIRST_PARTY.get(entry.name);
    if (!firstParty) return `${key}: no plugin named "${entry.name}" in this version (first-party: ${[...FIRST_PARTY.keys()].join(', ')}); for your own, give module: its file or package`;
    url = firstParty.href;
  }
  let exported: unknown;
  try {
    exported = ((await import(url)) as { default?: unknown }).default;
  } catch (err) {
    return `${key}: "${entry.module || entry.name}" could not be loaded: ${(err as Error).message.split('\n')[0]}`;
  }
  if (!isPlugin(exported)) return `${key}: "${entry.module || entry.name}" does not export a plugin as its default export (export default definePlugin({ name, start }))`;
  return exported;
}

/** A path (absolute, or relative to the configuration's directory) or a package name, as a URL to import; null when neither resolves. */
function locate(spec: string, configDir: string): string | null {
  // A file (a directory: its index or package main), or a package from the configuration's node_modules.
  const target = spec.startsWith('.') || path.isAbsolute(spec) ? path.resolve(configDir, spec) : spec;
  try {
    return pathToFileURL(createRequire(path.join(configDir, 'headroom.config')).resolve(target)).href;
  } catch {
    return null;
  }
}

function isPlugin(value: unknown): value is Plugin {
  return typeof value === 'object' && value !== null && typeof (value as Plugin).name === 'string' && (value as Plugin).name !== '' && typeof (value as Plugin).start === 'function';
}
