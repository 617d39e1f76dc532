import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import YAML from 'yaml';
import type { Test } from 'tap';

export const CLI = path.resolve(import.meta.dirname, '../../dist/src/cli.js');

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  readonly lines: Array<Record<string, unknown>>;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  kill(): void;
}

/** `headroom proxy` as a user runs it, on a config file written from `config`. */
export async function spawnGateway(config: Record<string, unknown>): Promise<GatewayProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-proc-'));
  const file = path.join(dir, 'gateway.yaml');
  writeFileSync(file, YAML.stringify(config));
  const child = spawn(CLI, ['proxy', '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit').then(([code]) => {
    rmSync(dir, { recursive: true, force: true });
    return code as number | null;
  });
  const lines: Array<Record<string, unknown>> = [];
  const listening = new Promise<number>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.msg === 'gateway listening') resolve(entry.port as number);
    });
    void exited.then((code) => reject(new Error(`the gateway exited (${code}) before listening`)));
    setTimeout(() => reject(new Error('the gateway did not log "gateway listening" within 10 s (is log.level above info?)')), 10_000).unref();
  });
  const port = await listening;
  return { child, port, url: `http://127.0.0.1:${port}`, lines, exited, kill: () => child.kill('SIGKILL') };
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** `headroom proxy` in front of one origin, on loopback, killed when the test ends if still running. */
export async function spawnGatewayFor(t: Test, originUrl: string, values: Record<string, unknown> = {}): Promise<GatewayProcess> {
  const gateway = await spawnGateway({
    listen: { host: '127.0.0.1', port: 0, ...(values.listen as object) },
    admin: { host: '127.0.0.1', port: 0 },
    origins: [{ name: 'files', url: originUrl }],
    routes: [{ origin: 'files' }],
    ...Object.fromEntries(Object.entries(values).filter(([k]) => k !== 'listen')),
  });
  t.teardown(() => gateway.kill());
  return gateway;
}
