import convict from 'convict';
import path from 'node:path';
import { readConfigFile } from './file.js';
import { withEnvAndArgs } from './schema.js';
import { problemLines } from './section.js';
import { checkStructure } from './structure.js';
import type { ConfigSource } from './load.js';
import { oneOf, validatedValues, type ConfigOf } from './shape.js';


export const agentSchema = {
  listen: {
    host: { doc: 'Address the agent listens on; loopback unless set (its answer tells the host’s mounts and devices).', format: String, default: '127.0.0.1' },
    port: { doc: 'Port the agent listens on.', format: 'port', default: 9100 },
  },
  token: { doc: 'Bearer token gateways must send; empty = no auth.', format: String, default: '', sensitive: true },
  paths: { doc: 'Volumes to report (the mount holding each path); empty = every real mount.', format: 'string-list', default: [] },
  usage: {
    roots: { doc: 'Directories each holding a directory per tenant, whose bytes and files GET /v1/usage reports; empty = none.', format: 'string-list', default: [] },
    interval: { doc: 'Time between one measurement of every root and the next.', format: 'positive-duration', default: 10_000 },
  },
  log: {
    level: { doc: 'Least severe log level written.', format: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), default: 'info' },
  },
} as const;

/**
 * The agent's configuration (docs/agent.md). `paths` and `usage.roots` are
 * as configured (and so reported; empty `paths` = every real mount);
 * relative ones are measured from `baseDir`, the config file's directory.
 */
export type AgentConfig = ConfigOf<typeof agentSchema> & { readonly baseDir: string };

const agentWithOverrides = withEnvAndArgs(agentSchema, 'HEADROOM_AGENT');

/** Every `--flag` the agent's configuration accepts. */
export const agentFlags: ReadonlySet<string> = new Set(['listen.host', 'listen.port', 'token', 'paths', 'usage.roots', 'usage.interval', 'log.level']);

/** Keys only an agent's config has at its top level. */
export function looksLikeAgentConfig(data: Record<string, unknown>): boolean {
  return 'paths' in data || 'token' in data || 'usage' in data;
}

export type AgentConfigResult = { ok: true; config: AgentConfig } | { ok: false; problems: string[] };

export function loadAgentConfig(source: ConfigSource): AgentConfigResult {
  let data: Record<string, unknown> = { ...source.values };
  if (source.file !== null) {
    const read = readConfigFile(source.file);
    if (!read.ok) return read;
    data = read.data;
  }
  const structure = checkStructure(agentSchema, data, '');
  const problems = [...structure.problems];
  const config = convict(agentWithOverrides, { env: source.env ?? process.env, args: [...(source.args ?? [])] });
  try {
    config.load(structure.cleaned);
    config.validate({ allowed: 'strict' });
  } catch (err) {
    problems.push(...problemLines((err as Error).message, ''));
  }
  if (problems.length) return { ok: false, problems };
  const raw = validatedValues(config, agentSchema);
  const baseDir = source.file === null ? process.cwd() : path.dirname(path.resolve(source.file));
  return { ok: true, config: { ...raw, baseDir } };
}
