import { lstat, opendir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Bytes stored under `dir` (file sizes; symbolic links are not followed,
 * nor counted). The walk is asynchronous entry by entry with its own stack
 * rather than recursion: a huge or deep tree takes long, but it never holds
 * the event loop or a whole directory listing at once. A directory that
 * does not exist holds 0 bytes (a tenant that has not written yet); one
 * that vanishes mid-walk is skipped.
 */
export async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  const pending = [dir];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    let entries;
    try {
      entries = await opendir(next, { bufferSize: 64 });
    } catch (err) {
      if (isGone(err)) continue;
      throw err;
    }
    for await (const entry of entries) {
      const full = path.join(next, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else if (entry.isFile()) total += await sizeOf(full);
    }
  }
  return total;
}

/** The names of the directories directly under `root` (each a tenant's); none when it does not exist. */
export async function directoriesIn(root: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of await opendir(root)) if (entry.isDirectory()) names.push(entry.name);
  } catch (err) {
    if (!isGone(err)) throw err;
  }
  return names;
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await lstat(file)).size;
  } catch (err) {
    if (isGone(err)) return 0;
    throw err;
  }
}

const isGone = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};
