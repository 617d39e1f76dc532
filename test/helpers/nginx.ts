import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { until } from './http.js';

export const NGINX = '/usr/sbin/nginx';

export interface Nginx {
  /** Lines of its error log (warn and above). */
  errorLog(): string;
  close(): Promise<void>;
}

/**
 * Debian's nginx with `http` as its http block, in the foreground as one
 * process (no master), with its pid, logs and temp paths in a temp dir;
 * resolves once `port` accepts connections.
 */
export async function startNginx(http: string, port: number): Promise<Nginx> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-nginx-'));
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${http}
}
`);
  const child = spawn(NGINX, ['-c', conf, '-p', `${dir}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  const errorLog = (): string => (existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8') : '');
  try {
    await until(async () => child.exitCode !== null || (await reachable(port)), 'nginx to listen', 10_000);
  } finally {
    if (child.exitCode !== null) {
      const log = errorLog();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nginx exited (${child.exitCode}): ${stderr}${log}`);
    }
  }
  return {
    errorLog,
    close: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function reachable(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}
