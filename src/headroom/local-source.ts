import type { LocalSourceConfig } from '../config/types.js';
import type { Logger } from '../log/log.js';
import { measureAllocation, measureFilesystem } from './measure.js';
import type { HeadroomRegistry } from './registry.js';
import type { VolumeState } from './volume-state.js';
import { every } from './poll.js';

/**
 * The sidecar's source: measures each configured path on its interval and
 * records a snapshot. Each poll is scheduled after the previous one ends,
 * so a slow filesystem never piles polls up. Returns a stop function.
 */
export function startLocalSource(origin: string, config: LocalSourceConfig, registry: HeadroomRegistry, logger: Logger): () => void {
  const measure = async (dir: string, state: VolumeState): Promise<void> => {
    const mark = state.writtenMark();
    const takenAt = Date.now();
    try {
      const m = config.capacity > 0 ? await measureAllocation(dir, config.capacity) : await measureFilesystem(dir);
      state.record({ totalBytes: m.totalBytes, availableBytes: m.availableBytes, totalInodes: m.totalInodes, freeInodes: m.freeInodes, takenAt, source: 'local' }, mark);
    } catch (err) {
      const message = `cannot measure ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      if (state.lastError !== message) logger.warn({ msg: 'volume measurement failed', origin, volume: dir, error: message });
      state.recordError(message);
    }
  };
  const stops = config.paths.map((dir) => {
    const state = registry.volume(origin, dir);
    return every(config.interval, () => measure(dir, state));
  });
  return () => stops.forEach((stop) => stop());
}
