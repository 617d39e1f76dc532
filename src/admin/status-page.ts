import { escapeHtml as esc } from '../http/html.js';
import type { GatewayStatus, StatusWalk, VolumeStatus } from './status.js';

/** What a volume's drawing needs of the whole. */
type Marks = Pick<GatewayStatus, 'floodStage' | 'floodRelease'>;
const pct = (part: number, whole: number): string => `${Math.max(0, Math.min(100, (part / whole) * 100)).toFixed(2)}%`;

function size(bytes: number | null): string {
  if (bytes === null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let n = Math.abs(bytes);
  let u = 0;
  while (n >= 1024 && u < units.length - 1) (n /= 1024), u++;
  return `${bytes < 0 ? '−' : ''}${n.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

/** One bar: used, reserved for uploads in flight, free; the reserve hatched at the end; flood marks as lines. */
function bar(v: VolumeStatus, status: Marks): string {
  if (v.totalBytes === null || v.availableBytes === null || v.totalBytes === 0) return '<div class="bar unknown">no snapshot yet</div>';
  const total = v.totalBytes;
  const used = total - v.availableBytes + v.writtenSinceSnapshotBytes;
  return `<div class="bar" role="img" aria-label="${esc(v.volume)}: ${size(used)} used, ${size(v.reservedBytes)} reserved of ${size(total)}">
  <div class="used" style="width:${pct(used, total)}"></div><div class="reserved" style="width:${pct(v.reservedBytes, total)}"></div>
  <div class="reserve" style="width:${pct(v.reserveBytes ?? 0, total)}" title="kept free (policy.reserve)"></div>
  <div class="mark release" style="left:${pct(status.floodRelease * total, total)}" title="flood release ${(status.floodRelease * 100).toFixed(0)}%"></div>
  <div class="mark stage" style="left:${pct(status.floodStage * total, total)}" title="flood stage ${(status.floodStage * 100).toFixed(0)}%"></div>
</div>`;
}

const GRAPH_W = 320;
const GRAPH_H = 56;

/**
 * The volume's recent used bytes as a line, with flood stage as a dashed
 * line. The scale runs from a little below the lowest point to the
 * volume's size: on one from 0, a day's growth on a large volume would be
 * a flat line; the two ends are labelled, so the cut is plain.
 */
function historyGraph(v: VolumeStatus, status: Marks): string {
  const total = v.totalBytes;
  if (total === null || total === 0 || v.history.length < 2) return '';
  const first = v.history[0]![0];
  const span = v.history[v.history.length - 1]![0] - first || 1;
  const lowest = Math.min(...v.history.map(([, used]) => used), status.floodStage * total);
  const floor = Math.max(0, lowest - (total - lowest) * 0.2);
  const x = (at: number): string => (((at - first) / span) * GRAPH_W).toFixed(1);
  const y = (used: number): string => (GRAPH_H - Math.max(0, Math.min(1, (used - floor) / (total - floor))) * GRAPH_H).toFixed(1);
  const line = v.history.map(([at, used]) => `${x(at)},${y(used)}`).join(' ');
  const flood = y(status.floodStage * total);
  return `<svg class="history" width="${GRAPH_W}" height="${GRAPH_H}" viewBox="0 0 ${GRAPH_W} ${GRAPH_H}" role="img" aria-label="${esc(v.volume)}: used bytes over the last ${duration(span / 1000)}, from ${size(floor)} to ${size(total)}">
  <polygon class="area" points="0,${GRAPH_H} ${line} ${GRAPH_W},${GRAPH_H}"/><polyline class="line" points="${line}"/>
  <line class="flood" x1="0" x2="${GRAPH_W}" y1="${flood}" y2="${flood}"><title>flood stage ${(status.floodStage * 100).toFixed(0)}%</title></line>
  <text x="3" y="10">${size(total)}</text><text x="3" y="${GRAPH_H - 3}">${size(floor)}</text><text x="${GRAPH_W - 3}" y="${GRAPH_H - 3}" text-anchor="end">last ${duration(span / 1000)}</text>
</svg>`;
}

/** A span of time as a person says it. */
function duration(seconds: number): string {
  const say = (n: number, unit: string): string => `${Math.round(n)} ${unit}${Math.round(n) === 1 ? '' : 's'}`;
  if (seconds < 60) return say(seconds, 'second');
  if (seconds < 3600) return say(seconds / 60, 'minute');
  if (seconds < 2 * 86400) return say(seconds / 3600, 'hour');
  if (seconds < 60 * 86400) return say(seconds / 86400, 'day');
  if (seconds < 730 * 86400) return say(seconds / (30 * 86400), 'month');
  return say(seconds / (365 * 86400), 'year');
}

/** Per second when it is at least a KiB a second, else per hour (a slow volume would read 0 B/s). */
function rate(bytesPerSecond: number): string {
  return Math.abs(bytesPerSecond) >= 1024 ? `${size(bytesPerSecond)}/s` : `${size(bytesPerSecond * 3600)}/h`;
}

/** The time to flood stage in words, with the rate it is projected from. */
function timeToFull(v: VolumeStatus): string {
  const g = v.growthBytesPerSecond;
  const growing = g === null ? '' : g === 0 ? ' · flat' : ` · ${g > 0 ? 'growing' : 'shrinking'} ${rate(Math.abs(g))}`;
  if (v.secondsToFloodStage === 0) return `<span class="bad">at flood stage</span>${growing}`;
  if (v.secondsToFloodStage !== null) return `flood stage in <b>about ${duration(v.secondsToFloodStage)}</b>${growing}`;
  const why = v.growthNote ? ` <span class="muted">(${esc(v.growthNote)})</span>` : '';
  return v.growthBytesPerSecond === null ? `time to flood stage unknown${why}` : `flood stage: never at this rate${growing}${why}`;
}

function volumeRow(v: VolumeStatus, status: Marks): string {
  const flags = [v.flood ? '<span class="bad">flood stage</span>' : '', v.markedFull ? '<span class="bad">origin said 507</span>' : '', v.fresh ? '' : '<span class="warn">stale</span>'].join(' ');
  return `<section class="volume"><h3>${esc(v.volume)} ${flags}</h3>${bar(v, status)}
<p class="figures">usable <b>${size(v.usableBytes)}</b> · available ${size(v.availableBytes)} of ${size(v.totalBytes)} · reserved ${size(v.reservedBytes)} · inodes free ${v.freeInodes ?? '–'} · ${v.source ?? 'no source'}, ${v.snapshotAgeMs === null ? 'never measured' : `measured ${(v.snapshotAgeMs / 1000).toFixed(1)} s ago`}${v.lastError ? ` · <span class="bad">${esc(v.lastError)}</span>` : ''}</p>
<div class="growth">${historyGraph(v, status)}<p class="figures">${timeToFull(v)}</p></div></section>`;
}

/** The status page a person reads at a glance; it reloads itself every 2 s. */
export function statusPage(status: StatusWalk): string {
  return [...statusPageText(status)].join('');
}

/** The same in pieces, a volume's row each, made as they are read. */
export function* statusPageText(status: StatusWalk): Generator<string> {
  yield `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>Headroom status</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:56rem;padding:0 1rem;color:#1d232a}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-bottom:.2rem}h3{font-size:.95rem;margin:.8rem 0 .3rem;font-weight:600}
.origin{border:1px solid #dde;border-radius:8px;padding:.6rem 1rem;margin:1rem 0}
.bar{position:relative;display:flex;height:1.4rem;background:#e9f5ec;border:1px solid #b9c6bd;border-radius:4px;overflow:hidden}
.bar.unknown{display:block;background:#f3f3f3;color:#777;font-size:.8rem;padding-left:.5rem;line-height:1.4rem}
.used{background:#4c78a8}.reserved{background:#f2a541}
.reserve{position:absolute;right:0;top:0;bottom:0;background:repeating-linear-gradient(45deg,#c9c9c9 0 4px,#e6e6e6 4px 8px)}
.mark{position:absolute;top:0;bottom:0;width:2px}.mark.stage{background:#c0392b}.mark.release{background:#e67e22}
.figures{font-size:.85rem;margin:.3rem 0 0}.good{color:#1e8449}.bad{color:#c0392b}.warn{color:#b9770e}.muted{color:#777;font-size:.85rem}
.growth{display:flex;align-items:center;gap:1rem;margin-top:.3rem}.growth .figures{margin:0}
.history{background:#f7f9fb;border:1px solid #dde;border-radius:4px;flex:none}.history .area{fill:#4c78a8;fill-opacity:.18}
.history .line{fill:none;stroke:#4c78a8;stroke-width:1.5}.history .flood{stroke:#c0392b;stroke-width:1;stroke-dasharray:4 3}.history text{font-size:9px;fill:#777}
.legend span{display:inline-block;margin-right:1rem;font-size:.8rem}.legend i{display:inline-block;width:.8rem;height:.8rem;vertical-align:middle;margin-right:.3rem}
</style></head><body>
<h1>Headroom</h1>
<p class="legend"><span><i style="background:#4c78a8"></i>used</span><span><i style="background:#f2a541"></i>reserved for uploads in flight</span><span><i style="background:#e9f5ec;border:1px solid #b9c6bd"></i>free</span><span><i style="background:#d0d0d0"></i>kept in reserve</span><span><i style="background:#e67e22"></i>flood release</span><span><i style="background:#c0392b"></i>flood stage</span></p>
<p class="muted">${size(status.reservedBytes)} reserved in all · refreshed every 2 s</p>
`;
  let o = 0;
  for (const origin of status.origins) {
    const health = origin.healthy === null ? '<span class="muted">health unchecked</span>' : origin.healthy ? '<span class="good">up</span>' : `<span class="bad">down</span> <small>${esc(origin.lastHealthError ?? '')}</small>`;
    const agentError = origin.lastAgentError ? `<p class="bad">${esc(origin.remoteSource ?? 'agent')}: ${esc(origin.lastAgentError)} <small>(${esc(origin.lastAgentErrorAt ?? '')})</small></p>` : '';
    yield `${o++ === 0 ? '' : '\n'}<article class="origin"><h2>${esc(origin.name)} ${health}</h2><p class="muted">${esc(origin.url)}</p>${agentError}`;
    let v = 0;
    for (const volume of origin.volumes) {
      v++;
      yield volumeRow(volume, status);
    }
    yield `${v === 0 ? '<p class="muted">no volume reported yet</p>' : ''}</article>`;
  }
  yield '\n</body></html>\n';
}
