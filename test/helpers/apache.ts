import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, chownSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { freePort, until } from './http.js';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const WWW_DATA = 33;

export interface Apache {
  readonly url: string;
  readonly port: number;
  /** Request lines as Apache received them (its %r), oldest first. */
  requestLines(): string[];
  close(): Promise<void>;
}

/** Whether Debian's apache2 is installed (`.ci/run` installs it). */
export const apacheInstalled = (): boolean => existsSync(APACHE);

/**
 * Apache httpd with mod_dav serving `docRoot` (read-write, as www-data), on
 * loopback, with its own config, pid, lock and log files in a temp dir.
 */
export async function startApache(docRoot: string): Promise<Apache> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-apache-'));
  chmodSync(dir, 0o755);
  chownSync(dir, WWW_DATA, WWW_DATA);
  const port = await freePort();
  const conf = path.join(dir, 'httpd.conf');
  writeFileSync(conf, `
LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule dav_module ${MODULES}/mod_dav.so
LoadModule dav_fs_module ${MODULES}/mod_dav_fs.so
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
User www-data
Group www-data
PidFile ${dir}/httpd.pid
DefaultRuntimeDir ${dir}
Mutex file:${dir} default
ErrorLog ${dir}/error.log
LogLevel warn
LogFormat "%r" requestline
CustomLog ${dir}/requests.log requestline
BufferedLogs Off
DavLockDB ${dir}/DavLock
LimitRequestBody 0
KeepAlive On
DocumentRoot ${docRoot}
<Directory ${docRoot}>
  Dav On
  Require all granted
</Directory>
`);
  const child = spawn(APACHE, ['-f', conf, '-DFOREGROUND'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  const reachable = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  try {
    await until(async () => child.exitCode !== null || (await reachable()), 'apache to listen', 10_000);
  } finally {
    if (child.exitCode !== null) {
      const log = existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8') : '';
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`apache2 exited (${child.exitCode}): ${stderr}${log}`);
    }
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requestLines: () => (existsSync(`${dir}/requests.log`) ? readFileSync(`${dir}/requests.log`, 'latin1').split('\n').filter(Boolean) : []),
    close: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
