/**
 * What a write may take on a disk beyond the bytes the gateway counted for
 * it: the rest of its last block, a new directory entry's block, an
 * origin's property database or journal. Generous on purpose: growth that
 * it may explain is never taken for another write's bytes landing.
 */
export const WRITE_OVERHEAD = 64 * 1024;

/** Writes that ended on a volume, counted since the gateway started (monotonic). */
export interface WriteCount {
  readonly ended: number;
  /** Of them, those whose size on the disk the gateway only guessed (a COPY whose source it could not size). */
  readonly uncertain: number;
}

/**
 * How much of a volume's growth since `since` the writes that ended in
 * between may explain beyond their counted bytes; Infinity when one of
 * them wrote an amount the gateway does not know.
 */
export function overheadSince(now: WriteCount, since: WriteCount): number {
  return now.uncertain > since.uncertain ? Infinity : (now.ended - since.ended) * WRITE_OVERHEAD;
}
