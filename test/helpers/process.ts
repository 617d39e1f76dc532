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
  /** The config file it was started with (removed when it exits); rewrite it and send SIGHUP to reload. */
  readonly file: string;
  readonly port: number;
  /** The admin listener's URL. */
  readonly adminUrl: string;
  readonly url: string;
  readonly lines: Array<Record<string, unknown>>;
  /** Stdout lines that are not the log's JSON (what Node's own flags print, such as --trace-gc). */
  readonly otherLines: string[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** SIGKILL; resolves once it exited and its config dir is gone (a teardown that returns it waits for both). */
  kill(): Promise<void>;
}

/** How the gateway's process is started. */
export interface Launch {
  /** Flags for node, before the script. */
  readonly nodeArgs?: readonly string[];
  /**
   * Without the hooks tap puts into every child's NODE_OPTIONS (it adds
   * them back to any environment it is given): a process as a user runs
   * it, for tests of the process itself (its heap, say).
   */
  readonly withoutTapHooks?: boolean;
}

/** `headroom proxy` as a user runs it, on a config file written from `config`. */
export async function spawnGateway(config: Record<string, unknown>, { nodeArgs = [], withoutTapHooks = false }: Launch = {}): Promise<GatewayProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-proc-'));
  const file = path.join(dir, 'gateway.yaml');
  writeFileSync(file, YAML.stringify(config));
  const argv = [process.execPath, ...nodeArgs, CLI, 'proxy', '--config', file];
  const [command, ...args] = withoutTapHooks ? ['env', '-u', 'NODE_OPTIONS', ...argv] : argv;
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit').then(([code]) => {
    rmSync(dir, { recursive: true, force: true });
    return code as number | null;
  });
  const lines: Array<Record<string, unknown>> = [];
  const otherLines: string[] = [];
  let adminUrl = '';
  const listening = new Promise<number>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return void otherLines.push(line);
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.msg === 'gateway listening') {
        adminUrl = `http://${String(entry.admin)}`;
        resolve(entry.port as number);
      }
    });
    void exited.then((code) => reject(new Error(`the gateway exited (${code}) before listening`)));
    setTimeout(() => reject(new Error('the gateway did not log "gateway listening" within 10 s (is log.level above info?)')), 10_000).unref();
  });
  const port = await listening;
  return { child, file, port, adminUrl, url: `http://127.0.0.1:${port}`, lines, otherLines, exited, kill: () => {
    child.kill('SIGKILL');
    return exited.then(() => undefined);
  } };
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** `headroom proxy` in front of one origin, on loopback, killed when the test ends if still running. */
export async function spawnGatewayFor(t: Test, originUrl: string, values: Record<string, unknown> = {}, launch: Launch = {}): Promise<GatewayProcess> {
  const gateway = await spawnGateway({
    listen: { host: '127.0.0.1', port: 0, ...(values.listen as object) },
    admin: { host: '127.0.0.1', port: 0 },
    origins: [{ name: 'files', url: originUrl }],
    routes: [{ origin: 'files' }],
    ...Object.fromEntries(Object.entries(values).filter(([k]) => k !== 'listen')),
  }, launch);
  t.teardown(() => gateway.kill());
  return gateway;
}
