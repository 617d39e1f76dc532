/** A volume's figures as a remote source read them, before they are trusted. */
export interface RemoteFigures {
  readonly totalBytes: number;
  readonly availableBytes: number;
  readonly totalInodes: number | null;
  readonly freeInodes: number | null;
}

/**
 * Figures a filesystem could have: each a finite number, not negative,
 * what is available within the total. Fractions (a computed expression's)
 * are rounded down, which only ever shows less room. `names` says what
 * each figure was read from, so that the error leads to it.
 */
export function checkFigures(f: RemoteFigures, names: Readonly<Record<keyof RemoteFigures, string>>): { ok: true; figures: RemoteFigures } | { ok: false; error: string } {
  for (const key of ['totalBytes', 'availableBytes', 'totalInodes', 'freeInodes'] as const) {
    const n = f[key];
    if (n === null) continue;
    if (!Number.isFinite(n) || n < 0 || n > Number.MAX_SAFE_INTEGER) return { ok: false, error: `${names[key]} is ${n}: expected a count of bytes or inodes (finite, not negative)` };
  }
  const figures = {
    totalBytes: Math.floor(f.totalBytes),
    availableBytes: Math.floor(f.availableBytes),
    totalInodes: f.totalInodes === null ? null : Math.floor(f.totalInodes),
    freeInodes: f.freeInodes === null ? null : Math.floor(f.freeInodes),
  };
  if (figures.availableBytes > figures.totalBytes) return { ok: false, error: `${names.availableBytes} (${figures.availableBytes}) is above ${names.totalBytes} (${figures.totalBytes}): no filesystem has more room than its size; check that both read the same volume` };
  if (figures.totalInodes !== null && figures.freeInodes !== null && figures.freeInodes > figures.totalInodes) {
    return { ok: false, error: `${names.freeInodes} (${figures.freeInodes}) is above ${names.totalInodes} (${figures.totalInodes}); check that both read the same volume` };
  }
  return { ok: true, figures };
}

/** Two errors that differ only in their figures (sizes, line numbers, times): a lasting defect is logged once, not at every poll. */
export function sameKind(a: string | null, b: string | null): boolean {
  return (a?.replace(/\d+/g, 'N') ?? null) === (b?.replace(/\d+/g, 'N') ?? null);
}
