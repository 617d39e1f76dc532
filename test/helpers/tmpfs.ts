import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';

/**
 * Why tmpfs-backed tests cannot run here, or null when they can. Under
 * CI=true they must run, so a reason becomes a failure there.
 */
export function tmpfsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  return null;
}

/**
 * Mounts a tmpfs of the given options (`size=16m,uid=33,gid=33`) on a
 * fresh directory, unmounted and removed when the test ends.
 */
export function mountTmpfs(t: Test, options: string): string {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'headroom-tmpfs-'));
  chmodSync(parent, 0o755);
  const dir = path.join(parent, 'volume');
  execFileSync('mkdir', [dir]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  t.teardown(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(parent, { recursive: true, force: true });
  });
  return dir;
}

/** Registers the tmpfs tests, or skips them with the reason (fails them under CI=true). */
export function withTmpfs(t: Test, name: string, fn: (t: Test) => Promise<void>): void {
  const reason = tmpfsUnavailable();
  if (reason === null) {
    t.test(name, fn);
  } else if (process.env.CI === 'true') {
    t.test(name, async (t) => t.fail(`tmpfs tests must run under CI=true, but ${reason}`));
  } else {
    t.test(name, { skip: `${reason}; run as root (or under CI) to include it` }, async () => undefined);
  }
}
