#!/usr/bin/env node
import YAML from 'yaml';
import { flagsAsArgv, parseArguments } from './cli/arguments.js';
import { agentFlags, loadAgentConfig, looksLikeAgentConfig } from './config/agent-config.js';
import { readConfigFile } from './config/file.js';
import { gatewayFlags, loadGatewayConfig } from './config/load.js';
import { redact } from './config/redact.js';
import { isGroupWorker, runAgent, runProxy, runProxyWorker } from './cli/run.js';
import { growHeapForStreams } from './cli/heap-growth.js';

const USAGE = `usage:
  headroom proxy --config FILE [--key value ...]   run the gateway
  headroom agent --config FILE [--key value ...]   run the agent on an origin host
  headroom check-config FILE [--key value ...]     validate a gateway or agent config file; print the effective config
  headroom demo [--key value ...]                  a sample origin guarded by the gateway, on loopback
  headroom version                                 print the version (also --version, -v)
  headroom <command> --help                        the command's options

Any config key can be given as --<key.path> value (e.g. --listen.port 8081), or in the
environment as HEADROOM_<KEY_PATH> (gateway) or HEADROOM_AGENT_<KEY_PATH> (agent).`;

function fail(message: string, code = 2): never {
  process.stderr.write(`headroom: ${message}\n`);
  process.exit(code);
}

type Result<T> = { ok: true; config: T } | { ok: false; problems: string[] };

function orExit<T>(result: Result<T>): T {
  if (result.ok) return result.config;
  process.stderr.write(result.problems.map((p) => `${p}\n`).join(''));
  process.exit(1);
}

/** `headroom <command> --help`: what the command does and every option it takes. */
async function commandHelp(command: string): Promise<string> {
  const { optionLines } = await import('./cli/help.js');
  const { gatewaySchema } = await import('./config/schema.js');
  const { agentSchema } = await import('./config/agent-config.js');
  const line = USAGE.split('\n').find((l) => l.trimStart().startsWith(`headroom ${command} `)) ?? `  headroom ${command}`;
  const schema = command === 'agent' ? agentSchema : gatewaySchema;
  const options = ['', 'options (any config key; sizes in bytes, durations in ms; also HEADROOM_<KEY_PATH>):', ...optionLines(schema)];
  return [`usage:`, line, ...options].join('\n');
}

const COMMANDS = new Set(['proxy', 'agent', 'check-config', 'demo']);

/** A reader that stopped reading (`| head`) ends a command that only prints: no stack trace. */
function quietWhenReaderLeaves(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command !== 'proxy' && command !== 'agent' && command !== 'demo') quietWhenReaderLeaves();
  if (command === 'version' || command === '--version' || command === '-v') {
    const { packageVersion } = await import('./package-version.js');
    return void process.stdout.write(`headroom ${packageVersion()}\n`);
  }
  if (command !== undefined && COMMANDS.has(command) && (rest.includes('--help') || rest.includes('-h'))) {
    return void process.stdout.write(`${await commandHelp(command)}\n`);
  }
  // Before the configuration is read: start-up's full GC already sizes the limit.
  if (command === 'proxy' || command === 'demo') growHeapForStreams();
  const known = new Set([...(command === 'agent' ? agentFlags : command === 'check-config' ? [...gatewayFlags, ...agentFlags] : gatewayFlags), 'config']);
  const parsed = parseArguments(rest, known);
  if (!parsed.ok) fail(`${parsed.problem}\n${USAGE}`);
  const { positional, flags } = parsed.args;
  const source = (file: string | null) => ({ file, env: process.env, args: flagsAsArgv(flags, ['config']) });
  switch (command) {
    case 'check-config': {
      const file = positional[0] ?? flags.get('config');
      if (file === undefined) fail(`check-config needs a FILE\n${USAGE}`);
      const read = readConfigFile(file);
      const agent = read.ok && looksLikeAgentConfig(read.data);
      const { agentWarnings, gatewayWarnings } = await import('./config/warnings.js');
      let warnings: string[];
      let config: object;
      if (agent) {
        const loaded = orExit(loadAgentConfig(source(file)));
        [config, warnings] = [loaded, agentWarnings(loaded, { open: true })];
      } else {
        const loaded = orExit(loadGatewayConfig(source(file)));
        // A plugin's options are its schema's to judge: its code is loaded to read them.
        const { resolvePlugins } = await import('./plugin/resolve-plugins.js');
        const plugins = await resolvePlugins(loaded.plugins);
        if (!plugins.ok) orExit(plugins);
        // configDir is where a plugin's paths are resolved from, not a key of the file.
        [config, warnings] = [{ ...loaded, plugins: loaded.plugins.map(({ configDir: _, ...entry }) => entry) }, gatewayWarnings(loaded)];
      }
      process.stderr.write(warnings.map((w) => `warning: ${w}\n`).join(''));
      process.stdout.write(`# ${file}: a valid ${agent ? 'agent' : 'gateway'} configuration. Effective values (sizes in bytes, durations in ms):\n`);
      process.stdout.write(YAML.stringify(redact(config)));
      return;
    }
    case 'proxy':
    case 'agent': {
      const file = flags.get('config') ?? null;
      if (file === null) fail(`${command} needs --config FILE\n${USAGE}`);
      // A worker of a group is given the configuration its primary validated (the file may have changed since).
      if (command === 'proxy' && isGroupWorker()) await runProxyWorker();
      else if (command === 'proxy') await runProxy(orExit(loadGatewayConfig(source(file))), () => loadGatewayConfig(source(file)));
      else await runAgent(orExit(loadAgentConfig(source(file))));
      return;
    }
    case 'demo':
      await (await import('./cli/demo.js')).runDemo(flagsAsArgv(flags, ['config']));
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      fail(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  fail(err instanceof Error ? err.message : String(err), 1);
});
