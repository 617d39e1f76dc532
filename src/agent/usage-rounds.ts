import { stat } from 'node:fs/promises';
import path from 'node:path';
import { directoriesIn, usageUnder } from '../headroom/directory-usage.js';

/** One directory under a root, as `GET /v1/usage` reports it. */
export interface DirectoryReport {
  readonly name: string;
  readonly path: string;
  /** Null when `error` says why it could not be measured. */
  readonly bytes: number | null;
  readonly files: number | null;
  /** When its walk started (the agent's clock): it shows what was stored by then. */
  readonly measuredAt: string;
  readonly error: string | null;
}

/** A configured root and the directories directly under it, from the latest round that reached it. */
export interface RootReport {
  readonly root: string;
  /** When the root was listed in that round; null before the first. */
  readonly listedAt: string | null;
  /** Why the root could not be listed; its directories are then none. */
  readonly error: string | null;
  readonly directories: readonly DirectoryReport[];
}

/**
 * Measures each directory directly under each root, one walk at a time, in
 * rounds: the next round starts `interval` after one ends, so a walk in
 * progress is never restarted nor doubled, and asking for the report never
 * starts one — a round's cost is one walk of the trees, however often the
 * agent is asked. Each root's report is swapped whole when its round is
 * done.
 */
export class UsageRounds {
  readonly #roots: ReadonlyArray<{ readonly name: string; readonly dir: string }>;
  readonly #interval: number;
  readonly #reports: RootReport[];
  readonly #stop = new AbortController();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(roots: readonly string[], baseDir: string, interval: number) {
    this.#roots = roots.map((name) => ({ name, dir: path.resolve(baseDir, name) }));
    this.#interval = interval;
    this.#reports = roots.map((root) => ({ root, listedAt: null, error: null, directories: [] }));
  }

  /** Starts the first round now (nothing to do without roots). */
  start(): void {
    if (this.#roots.length > 0) this.#loop();
  }

  report(): readonly RootReport[] {
    return this.#reports;
  }

  /** Ends the round in progress at its next entry, and schedules none. */
  async stop(): Promise<void> {
    this.#stop.abort(new Error('the agent is stopping'));
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  #loop(): void {
    this.#running = this.#round().then(() => {
      if (this.#stop.signal.aborted) return;
      this.#timer = setTimeout(() => this.#loop(), this.#interval);
      this.#timer.unref();
    });
  }

  async #round(): Promise<void> {
    const signal = this.#stop.signal;
    for (const [i, { name, dir }] of this.#roots.entries()) {
      const listedAt = new Date().toISOString();
      let names: string[];
      try {
        // A root that is not there is an error (a mistyped path), not a root without tenants.
        if (!(await stat(dir)).isDirectory()) throw new Error(`${dir} is not a directory`);
        names = (await directoriesIn(dir)).sort();
      } catch (err) {
        this.#reports[i] = { root: name, listedAt, error: reason(err), directories: [] };
        continue;
      }
      const directories: DirectoryReport[] = [];
      for (const entry of names) {
        if (signal.aborted) return;
        const measuredAt = new Date().toISOString();
        const full = path.join(dir, entry);
        try {
          const { bytes, files } = await usageUnder(full, signal);
          directories.push({ name: entry, path: path.join(name, entry), bytes, files, measuredAt, error: null });
        } catch (err) {
          if (signal.aborted) return;
          directories.push({ name: entry, path: path.join(name, entry), bytes: null, files: null, measuredAt, error: reason(err) });
        }
      }
      this.#reports[i] = { root: name, listedAt, error: null, directories };
    }
  }
}

const reason = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : e.message;
};
