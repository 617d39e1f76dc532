import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { onCleanup } from './cleanup.mjs';

/** Mounts a tmpfs (`size=16m,uid=33,gid=33`) on `dir`, unmounted when the process ends, however it ends. Needs root. */
export function mountTmpfs(dir, options) {
  if (process.getuid?.() !== 0) throw new Error('the soak mounts tmpfs volumes: run it as root');
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  onCleanup(() => execFileSync('umount', ['-l', dir]));
  return dir;
}
