// The large-PROPFIND table and target (bench/propfind.mjs's JSON), for bench/run.mjs's report.

/** Peak RSS per answer size, and the untouched answer for comparison. */
export function propfindReport(p, fmt) {
  const lines = [];
  const rss = (m) => `${fmt(m.peakRssMiB)} MiB [${fmt(m.peakRssMin)}–${fmt(m.peakRssMax)}]`;
  lines.push('| Depth 1 PROPFIND asking for the quota properties (bench/propfind.mjs; a gateway process per answer) | answer | gateway peak RSS [lowest–highest] | MB/s |');
  lines.push('|---|---|---|---|');
  for (const [n, m] of Object.entries(p.sizes)) lines.push(`| ${fmt(Number(n))} entries, each filled | ${fmt(m.answerMiB, 1)} MiB | ${rss(m)} | ${fmt(m.mbps, 1)} |`);
  const u = p.untouched;
  lines.push(`| ${fmt(u.entries)} entries, quota not asked (passes untouched) | ${fmt(u.answerMiB, 1)} MiB | ${rss(u)} | ${fmt(u.mbps, 1)} |`);
  return lines;
}

/**
 * Flat RSS: between the two largest answers the peak grows by under a tenth
 * of what the answer grows by. Below them the heap is still reaching its
 * working size (the collector lets garbage build up to it), which says
 * nothing about holding the answer; a fill that held it would grow by at
 * least the answer.
 */
export function propfindTarget(p, fmt) {
  const sizes = Object.keys(p.sizes).map(Number).sort((a, b) => a - b);
  const [small, large] = [p.sizes[sizes.at(-2)], p.sizes[sizes.at(-1)]];
  const grew = large.peakRssMiB - small.peakRssMiB;
  const answerGrew = large.answerMiB - small.answerMiB;
  const tenK = p.sizes[10000];
  const text = `flat RSS for large PROPFIND answers: from ${fmt(sizes.at(-2))} to ${fmt(sizes.at(-1))} entries (${fmt(answerGrew)} MiB more answer) the gateway's peak RSS grows by ${fmt(grew, 1)} MiB (< 10% of it)${tenK ? `; 10,000 entries: ${fmt(tenK.peakRssMiB)} MiB, 100 entries: ${fmt(p.sizes[sizes[0]].peakRssMiB)} MiB` : ''}`;
  return { ok: grew < answerGrew * 0.1, text };
}
