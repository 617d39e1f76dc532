/**
 * Least-squares line through (x, y) points: slope, its standard error and
 * the fitted change across the x range.
 */
export function fitLine(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  let ssr = 0;
  for (let i = 0; i < n; i++) ssr += (ys[i] - (my + slope * (xs[i] - mx))) ** 2;
  const se = n > 2 && sxx > 0 ? Math.sqrt(ssr / (n - 2) / sxx) : Infinity;
  const span = Math.max(...xs) - Math.min(...xs);
  return { n, mean: my, slope, se, change: slope * span };
}

/** Share of the change a series may show over the fitted window, relative to its mean. */
export const DRIFT_SHARE = 0.1;
/** How many standard errors from 0 the slope must be to count. */
export const DRIFT_T = 3;

/**
 * Fits the last two thirds of the samples. "drifts" when both hold: the
 * fitted change across that window is more than DRIFT_SHARE of the window's
 * mean (for a mean of 0, any change), and the slope is more than DRIFT_T
 * standard errors from 0 (so noise around a flat line does not count).
 */
export function driftVerdict(xs, ys) {
  const from = Math.floor(xs.length / 3);
  const fit = fitLine(xs.slice(from), ys.slice(from));
  if (fit.n < 3) return { ...fit, verdict: 'too few samples' };
  const relative = fit.mean === 0 ? (fit.change === 0 ? 0 : Infinity) : fit.change / Math.abs(fit.mean);
  const t = fit.se === 0 ? (fit.slope === 0 ? 0 : Infinity) : Math.abs(fit.slope) / fit.se;
  const drifts = Math.abs(relative) > DRIFT_SHARE && t > DRIFT_T;
  return { ...fit, relative, t, verdict: drifts ? 'drifts' : 'flat' };
}
