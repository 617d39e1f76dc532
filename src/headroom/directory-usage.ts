import { lstat, opendir } from 'node:fs/promises';
import path from 'node:path';

/** What a directory tree stores: the sizes of its regular files, and how many there are. */
export interface DirectoryUsage {
  readonly bytes: number;
  readonly files: number;
}

/**
 * Bytes and files stored under `dir` (symbolic links are neither followed
 * nor counted). The walk is asynchronous entry by entry with its own stack
 * rather than recursion: a huge or deep tree takes long, but it never holds
 * the event loop or a whole directory listing at once. A directory that
 * does not exist holds nothing (a tenant that has not written yet); one
 * that vanishes mid-walk is skipped. An aborted `signal` ends the walk
 * with its reason.
 */
export async function usageUnder(dir: string, signal?: AbortSignal): Promise<DirectoryUsage> {
  let bytes = 0;
  let files = 0;
  const pending = [dir];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    signal?.throwIfAborted();
    let entries;
    try {
      entries = await opendir(next, { bufferSize: 64 });
    } catch (err) {
      if (isGone(err)) continue;
      throw err;
    }
    for await (const entry of entries) {
      signal?.throwIfAborted();
      const full = path.join(next, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else if (entry.isFile()) {
        const size = await sizeOf(full);
        if (size !== null) {
          bytes += size;
          files++;
        }
      }
    }
  }
  return { bytes, files };
}

/** The names of the directories directly under `root`; none when it does not exist. */
export async function directoriesIn(root: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of await opendir(root)) if (entry.isDirectory()) names.push(entry.name);
  } catch (err) {
    if (!isGone(err)) throw err;
  }
  return names;
}

/** A file's size; null when it vanished before it could be read. */
async function sizeOf(file: string): Promise<number | null> {
  try {
    return (await lstat(file)).size;
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}

const isGone = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};
