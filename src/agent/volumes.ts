import path from 'node:path';
import { getDiskInfo } from 'node-disk-info';
import type { VolumeReport } from '../headroom/agent-report.js';
import { measureFilesystem } from '../headroom/measure.js';

export interface Mount {
  readonly filesystem: string;
  readonly mountpoint: string;
}

/**
 * Backed by a device or a network share: not tmpfs, devtmpfs, cgroup or
 * another in-memory or pseudo filesystem.
 */
export function isRealMount(mount: Mount): boolean {
  const fs = mount.filesystem;
  return fs.startsWith('/') || fs.includes(':');
}

/**
 * The mount list, from node-disk-info. It runs `df` synchronously (a few
 * ms with the event loop blocked), so it is read at start and then only
 * every `refreshMs`, never per request.
 */
export class MountTable {
  #mounts: readonly Mount[] = [];
  #timer: NodeJS.Timeout | null = null;

  async start(refreshMs: number): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  get mounts(): readonly Mount[] {
    return this.#mounts;
  }

  async refresh(): Promise<void> {
    const drives = await getDiskInfo();
    this.#mounts = drives.map((d) => ({ filesystem: d.filesystem, mountpoint: d.mounted }));
  }

  /** The mount holding `file`: the longest mountpoint that is a prefix of it. */
  mountOf(file: string): Mount | null {
    let best: Mount | null = null;
    for (const m of this.#mounts) {
      const inside = file === m.mountpoint || file.startsWith(m.mountpoint.endsWith('/') ? m.mountpoint : `${m.mountpoint}/`);
      if (inside && (!best || m.mountpoint.length > best.mountpoint.length)) best = m;
    }
    return best;
  }
}

/** Figures for each configured path (reported under its configured name), or for every real mount. */
export async function reportVolumes(paths: readonly string[], baseDir: string, mounts: MountTable): Promise<VolumeReport[]> {
  const targets = paths.length
    ? paths.map((p) => ({ name: p, dir: path.resolve(baseDir, p) }))
    : mounts.mounts.filter(isRealMount).map((m) => ({ name: m.mountpoint, dir: m.mountpoint }));
  return Promise.all(
    targets.map(async ({ name, dir }) => {
      const m = await measureFilesystem(dir);
      return { mount: name, filesystem: mounts.mountOf(dir)?.filesystem ?? 'unknown', ...m };
    }),
  );
}
