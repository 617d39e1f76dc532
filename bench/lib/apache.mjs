import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { onCleanup } from './cleanup.mjs';
import { freePort, waitForPort } from './processes.mjs';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const WWW_DATA = 33;

/**
 * Apache httpd with mod_dav serving `docRoot` read-write as www-data, on
 * loopback, with its own config, pid, lock and log files under `dir` (as the
 * tests start it). Stopped when the process ends.
 */
export async function startApache(dir, docRoot) {
  if (!existsSync(APACHE)) throw new Error(`${APACHE} is missing: apt-get install -y apache2`);
  mkdirSync(dir, { recursive: true });
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
DavLockDB ${dir}/DavLock
LimitRequestBody 0
KeepAlive On
DocumentRoot ${docRoot}
<Directory ${docRoot}>
  Dav On
  Require all granted
</Directory>
`);
  const child = spawn(APACHE, ['-f', conf, '-DFOREGROUND'], { stdio: ['ignore', 'ignore', 'inherit'] });
  onCleanup(() => child.exitCode === null && child.kill('SIGTERM'));
  try {
    await waitForPort(port, 'apache2', 10_000);
  } catch (error) {
    const log = existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8') : '';
    throw new Error(`${error.message}: ${log}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    errorLog: () => (existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8') : ''),
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
