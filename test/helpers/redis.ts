import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { Test } from 'tap';
import { freePort } from './http.js';

const REDIS = '/usr/bin/redis-server';
const CLI = '/usr/bin/redis-cli';

/** Why Redis tests cannot run here, or null. Under CI it must be installed (`.ci/run` does). */
export function redisUnavailable(): string | null {
  if (existsSync(REDIS)) return null;
  if (process.env.CI === 'true') throw new Error(`${REDIS} is missing: .ci/run installs redis-server`);
  return `${REDIS} is not installed (apt-get install -y redis-server)`;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** SIGSTOP: the connection stays up, nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Stops it (SIGTERM), waiting for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (nothing is saved). */
  start(): Promise<void>;
  /** redis-cli against it; resolves with its output. */
  cli(...args: string[]): Promise<string>;
  /** Its config and files. */
  readonly dir: string;
}

/** A redis-server of its own on a free loopback port, with its config in a temp dir; stopped and removed when the test ends. */
export interface RedisLaunch {
  /** More config lines (they win over the defaults). */
  readonly extra?: readonly string[];
  /** Run as a Sentinel (the extra lines say what it monitors). */
  readonly sentinel?: boolean;
  /** TLS only, with these PEM files: the URL is rediss://. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export async function startRedis(t: Test, { extra = [], sentinel = false, tls }: RedisLaunch = {}): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-redis-'));
  const port = await freePort();
  const conf = path.join(dir, 'redis.conf');
  const listen = tls ? ['port 0', `tls-port ${port}`, `tls-cert-file ${tls.cert}`, `tls-key-file ${tls.key}`, 'tls-auth-clients no'] : [`port ${port}`];
  writeFileSync(conf, [...listen, 'bind 127.0.0.1', `dir ${dir}`, 'save ""', 'appendonly no', 'daemonize no', 'loglevel notice', 'logfile ""', ...extra].join('\n') + '\n');
  let child: ChildProcess | null = null;
  const password = extra.find((line) => line.startsWith('requirepass '))?.slice('requirepass '.length);
  const cliArgs = [...(password ? ['--no-auth-warning', '-a', password] : []), ...(tls ? ['--tls', '--insecure'] : [])];

  const start = async (): Promise<void> => {
    const started = spawn(REDIS, sentinel ? [conf, '--sentinel'] : [conf], { stdio: ['ignore', 'pipe', 'inherit'] });
    child = started;
    const ready = new Promise<void>((resolve, reject) => {
      readline.createInterface({ input: started.stdout! }).on('line', (line) => {
        if (line.includes('Ready to accept connections') || (sentinel && line.includes('+monitor master'))) resolve();
      });
      started.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready`)));
    });
    await ready;
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    running.kill('SIGCONT');
    running.kill('SIGTERM');
    await once(running, 'exit');
  };
  await start();
  t.teardown(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    port,
    dir,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    stop,
    start,
    cli: (...args) =>
      new Promise((resolve, reject) => execFile(CLI, ['-p', String(port), ...cliArgs, ...args], (err, stdout) => (err ? reject(err) : resolve(stdout.trim())))),
  };
}
