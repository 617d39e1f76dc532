import { existsSync } from 'node:fs';
import type { Test } from 'tap';

/**
 * Registers a test that needs `binaries`, or skips it saying which one is
 * missing — a failure under CI=true, where `.ci/run` installs them all.
 */
export function withBinaries(t: Test, name: string, binaries: readonly string[], fn: (t: Test) => Promise<void>): void {
  const missing = binaries.filter((b) => !existsSync(b));
  if (missing.length === 0) {
    t.test(name, fn);
  } else if (process.env.CI === 'true') {
    t.test(name, async (t) => t.fail(`${missing.join(' and ')} must be installed under CI=true (.ci/run installs them)`));
  } else {
    t.test(name, { skip: `${missing.join(' and ')} not installed; apt-get install nginx caddy (as .ci/run does) to include it` }, async () => undefined);
  }
}
