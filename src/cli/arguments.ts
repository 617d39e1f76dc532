export interface Arguments {
  readonly positional: readonly string[];
  /** `--key value` and `--key=value` pairs, in order. */
  readonly flags: ReadonlyMap<string, string>;
}

export type ArgumentsResult = { ok: true; args: Arguments } | { ok: false; problem: string };

/**
 * Splits a command line into positionals and `--key value` flags. Config
 * keys are then read by convict from the same flags (see config/load.ts),
 * so a flag this command does not know is refused here rather than ignored.
 */
export function parseArguments(argv: readonly string[], known: ReadonlySet<string>): ArgumentsResult {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (!known.has(key)) return { ok: false, problem: `unknown option --${key}` };
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) return { ok: false, problem: `option --${key} needs a value` };
    flags.set(key, value);
  }
  return { ok: true, args: { positional, flags } };
}

/** The flags again as argv, for convict. */
export function flagsAsArgv(flags: ReadonlyMap<string, string>, except: readonly string[]): string[] {
  return [...flags].filter(([key]) => !except.includes(key)).flatMap(([key, value]) => [`--${key}`, value]);
}
