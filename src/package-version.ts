import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's version, from its package.json: found by walking up from
 * this module, which sits at a different depth in the sources and in the
 * build.
 */
export function packageVersion(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.version && manifest.name?.endsWith('headroom')) return manifest.version;
    } catch {
      // no package.json here: one level up
    }
  }
  return 'unknown';
}
