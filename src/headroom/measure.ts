import fs from 'node:fs/promises';
import path from 'node:path';

export interface Measurement {
  readonly totalBytes: number;
  /** Free blocks, root's reserve included (statfs bfree). */
  readonly freeBytes: number;
  /** What an unprivileged writer can use (statfs bavail). */
  readonly availableBytes: number;
  readonly totalInodes: number;
  readonly freeInodes: number;
}

/** The figures of the filesystem holding `dir` (statfs: exact, and cheap). */
export async function measureFilesystem(dir: string): Promise<Measurement> {
  const s = await fs.statfs(dir);
  return { totalBytes: s.blocks * s.bsize, freeBytes: s.bfree * s.bsize, availableBytes: s.bavail * s.bsize, totalInodes: s.files, freeInodes: s.ffree };
}

/** Bytes stored under `dir` (file sizes, recursively; symbolic links are not followed). */
export async function bytesStoredUnder(dir: string): Promise<number> {
  let total = 0;
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await bytesStoredUnder(full);
    else if (entry.isFile()) total += (await fs.lstat(full).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/**
 * A path with a fixed allocation (`local.capacity`): the capacity is its
 * total, what is stored under it is used, and it can never offer more than
 * the filesystem beneath it has.
 */
export async function measureAllocation(dir: string, capacity: number): Promise<Measurement> {
  const [fsFigures, used] = await Promise.all([measureFilesystem(dir), bytesStoredUnder(dir)]);
  const availableBytes = Math.max(0, Math.min(capacity - used, fsFigures.availableBytes));
  return {
    totalBytes: capacity,
    freeBytes: availableBytes,
    availableBytes,
    totalInodes: fsFigures.totalInodes,
    freeInodes: fsFigures.freeInodes,
  };
}
