#!/usr/bin/env node
import YAML from 'yaml';
import { flagsAsArgv, parseArguments } from './cli/arguments.js';
import { gatewayFlags, loadGatewayConfig } from './config/load.js';
import { redact } from './config/redact.js';
import type { GatewayConfig } from './config/types.js';
import { runProxy } from './cli/proxy.js';
import { runDemo } from './cli/demo.js';

const USAGE = `usage:
  headroom proxy --config FILE [--key value ...]   run the gateway
  headroom check-config FILE [--key value ...]     validate a config file and print the effective config
  headroom demo                                    a sample origin guarded by the gateway, on loopback

Any config key can be given as --<key.path> value (e.g. --listen.port 8081) or HEADROOM_<KEY_PATH>.`;

function fail(message: string, code = 2): never {
  process.stderr.write(`headroom: ${message}\n`);
  process.exit(code);
}

type Loaded = { config: GatewayConfig; file: string | null };

function loadOrExit(file: string | null, flags: ReadonlyMap<string, string>): Loaded {
  const result = loadGatewayConfig({ file, env: process.env, args: flagsAsArgv(flags, ['config']) });
  if (!result.ok) {
    process.stderr.write(result.problems.map((p) => `${p}\n`).join(''));
    process.exit(1);
  }
  return { config: result.config, file };
}

async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  const parsed = parseArguments(rest, new Set([...gatewayFlags, 'config']));
  if (!parsed.ok) fail(`${parsed.problem}\n${USAGE}`);
  const { positional, flags } = parsed.args;
  switch (command) {
    case 'check-config': {
      const file = positional[0] ?? flags.get('config');
      if (file === undefined) fail(`check-config needs a FILE\n${USAGE}`);
      const { config } = loadOrExit(file, flags);
      process.stdout.write(`# ${file}: valid. Effective configuration (sizes in bytes, durations in ms):\n`);
      process.stdout.write(YAML.stringify(redact(config)));
      return;
    }
    case 'proxy': {
      const file = flags.get('config') ?? null;
      if (file === null) fail(`proxy needs --config FILE\n${USAGE}`);
      await runProxy(loadOrExit(file, flags).config);
      return;
    }
    case 'demo':
      await runDemo();
      return;
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      fail(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  fail(err instanceof Error ? err.message : String(err), 1);
});
