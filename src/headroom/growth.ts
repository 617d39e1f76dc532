/** One snapshot as growth sees it: when it was taken and the bytes in use then. */
export interface GrowthPoint {
  readonly at: number;
  readonly usedBytes: number;
}

/** How fast a volume fills and when it reaches flood stage; nulls say why in `note`. */
export interface Growth {
  /** Least-squares slope of used bytes over the history; null with fewer than MIN_POINTS. */
  readonly bytesPerSecond: number | null;
  /** 0 at or past flood stage; null when it is not clearly growing ("never") or cannot be told. */
  readonly secondsToFloodStage: number | null;
  readonly note: string | null;
}

export interface GrowthLimits {
  /** Points kept per volume at most: memory per volume is fixed, whatever the number of volumes or the uptime. */
  readonly points: number;
  /** Points older than this (before the newest) are dropped: the rate is a recent one. */
  readonly windowMs: number;
}

export const DEFAULT_GROWTH_LIMITS: GrowthLimits = { points: 32, windowMs: 30 * 60_000 };

/** Fewer points cannot tell a trend from noise (two always fit a line exactly). */
export const MIN_POINTS = 3;

/**
 * A volume's recent points, oldest first, in fixed arrays. Every snapshot
 * is kept until the arrays fill; then every other one is dropped (the
 * newest kept) and later points are kept only `gap` apart — within it a
 * new point replaces the newest, so the newest is always current. The
 * history so spans the whole window at whatever interval snapshots come,
 * evenly enough that the fit does not weigh a burst of snapshots more.
 */
class Track {
  readonly at: Float64Array;
  readonly used: Float64Array;
  n = 0;
  gap = 0;

  constructor(points: number) {
    this.at = new Float64Array(points);
    this.used = new Float64Array(points);
  }

  add(at: number, used: number, windowMs: number): void {
    const n = this.n;
    if (n > 0 && at < this.at[n - 1]!) return; // an older snapshot than one already kept
    let drop = 0;
    while (drop < n && this.at[drop]! < at - windowMs) drop++;
    if (drop > 0) this.#shift(drop);
    if (this.n > 0 && at === this.at[this.n - 1]) return this.#set(this.n - 1, at, used);
    if (this.n >= 2 && at - this.at[this.n - 2]! < this.gap) return this.#set(this.n - 1, at, used);
    if (this.n === this.at.length) this.#thin();
    this.#set(this.n++, at, used);
  }

  points(): GrowthPoint[] {
    const out: GrowthPoint[] = [];
    for (let i = 0; i < this.n; i++) out.push({ at: this.at[i]!, usedBytes: this.used[i]! });
    return out;
  }

  #set(i: number, at: number, used: number): void {
    this.at[i] = at;
    this.used[i] = used;
  }

  #shift(k: number): void {
    this.at.copyWithin(0, k, this.n);
    this.used.copyWithin(0, k, this.n);
    this.n -= k;
  }

  /** Keeps every other point counting back from the newest; later points come at least as far apart as these now are. */
  #thin(): void {
    const n = this.n;
    let w = 0;
    for (let i = (n - 1) % 2; i < n; i += 2) this.#set(w++, this.at[i]!, this.used[i]!);
    this.n = w;
    if (w >= 2) this.gap = Math.max(this.gap, (this.at[w - 1]! - this.at[0]!) / (w - 1));
  }
}

/** Recent used bytes of every volume, by volume key, bounded in count and age. */
export class GrowthHistory {
  readonly #tracks = new Map<string, Track>();
  readonly #limits: GrowthLimits;

  constructor(limits: GrowthLimits = DEFAULT_GROWTH_LIMITS) {
    if (limits.points < MIN_POINTS + 1) throw new Error(`growth history needs at least ${MIN_POINTS + 1} points to thin`);
    this.#limits = limits;
  }

  record(key: string, at: number, usedBytes: number): void {
    let track = this.#tracks.get(key);
    if (!track) this.#tracks.set(key, (track = new Track(this.#limits.points)));
    track.add(at, usedBytes, this.#limits.windowMs);
  }

  /** Oldest first; empty for a volume never recorded. */
  points(key: string): GrowthPoint[] {
    return this.#tracks.get(key)?.points() ?? [];
  }

  growth(key: string, totalBytes: number, floodStage: number): Growth {
    return growthOf(this.points(key), totalBytes, floodStage);
  }

  forget(key: string): void {
    this.#tracks.delete(key);
  }
}

/**
 * The growth rate is the least-squares slope of used bytes over time: every
 * point counts, so one odd snapshot (a large temporary file made and
 * removed) moves it by its share of the window instead of deciding it, as
 * a difference of the first and last points would; it has a closed form
 * and no smoothing constant to tune. A time to flood stage is projected
 * only when the slope stands clear of the scatter around the line (at
 * least twice its standard error): a flat volume's noise gives a slope
 * that is positive half the time, and would otherwise project a date.
 * The projection starts from the newest point's usage, not the line's.
 */
export function growthOf(points: readonly GrowthPoint[], totalBytes: number, floodStage: number): Growth {
  const newest = points[points.length - 1];
  const floodBytes = floodStage * totalBytes;
  const past = newest !== undefined && newest.usedBytes >= floodBytes;
  if (points.length < MIN_POINTS) {
    const note = `${MIN_POINTS} snapshots needed for a growth rate, ${points.length} so far`;
    return past ? { bytesPerSecond: null, secondsToFloodStage: 0, note: 'at or past flood stage' } : { bytesPerSecond: null, secondsToFloodStage: null, note };
  }
  const fit = slope(points);
  if (fit === null) return { bytesPerSecond: null, secondsToFloodStage: past ? 0 : null, note: past ? 'at or past flood stage' : 'snapshots all taken at one moment' };
  const bytesPerSecond = fit.perMs * 1000;
  if (past) return { bytesPerSecond, secondsToFloodStage: 0, note: 'at or past flood stage' };
  if (fit.perMs <= 0) return { bytesPerSecond, secondsToFloodStage: null, note: fit.perMs < 0 ? 'shrinking' : 'not growing' };
  if (fit.perMs < 2 * fit.standardError) return { bytesPerSecond, secondsToFloodStage: null, note: 'no growth clear of the noise' };
  return { bytesPerSecond, secondsToFloodStage: (floodBytes - newest!.usedBytes) / bytesPerSecond, note: null };
}

/** Ordinary least squares of usedBytes on at (centred, for precision with epoch milliseconds). */
function slope(points: readonly GrowthPoint[]): { perMs: number; standardError: number } | null {
  const n = points.length;
  let mx = 0;
  let my = 0;
  for (const p of points) (mx += p.at), (my += p.usedBytes);
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const p of points) {
    const dx = p.at - mx;
    const dy = p.usedBytes - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return null;
  const perMs = sxy / sxx;
  const residual = Math.max(0, syy - perMs * sxy);
  return { perMs, standardError: Math.sqrt(residual / (n - 2) / sxx) };
}
