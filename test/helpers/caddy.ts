import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { until } from './http.js';
import { reachable } from './nginx.js';

export const CADDY = '/usr/bin/caddy';

export interface Caddy {
  /** What it printed (its JSON log). */
  output(): string;
  close(): Promise<void>;
}

/**
 * Debian's caddy running `sites` (Caddyfile site blocks) with no admin
 * endpoint, no automatic HTTPS, and its storage, config and data homes in
 * a temp dir; resolves once `port` accepts connections.
 */
export async function startCaddy(sites: string, port: number): Promise<Caddy> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-caddy-'));
  const file = path.join(dir, 'Caddyfile');
  writeFileSync(file, `{
  admin off
  auto_https off
  storage file_system ${dir}/storage
}
${sites}
`);
  const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir };
  const child = spawn(CADDY, ['run', '--config', file, '--adapter', 'caddyfile'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit');
  try {
    await until(async () => child.exitCode !== null || (await reachable(port)), 'caddy to listen', 10_000);
  } finally {
    if (child.exitCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`caddy exited (${child.exitCode}): ${output}`);
    }
  }
  return {
    output: () => output,
    close: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
