import http from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import type { PrometheusSourceConfig, PrometheusVolumeConfig } from '../config/types.js';
import type { Logger } from '../log/log.js';
import { every, poll } from './poll.js';
import { pollSpans, type PollOutcome } from './poll-span.js';
import { combinedQuery, parseQueryAnswer, type FigureSamples, type QueryAnswer } from './prometheus-query.js';
import type { HeadroomRegistry } from './registry.js';
import { checkFigures, sameKind, type RemoteFigures } from './remote-figures.js';
import type { SourceStatus } from './source-status.js';
import type { VolumeState, WrittenMark } from './volume-state.js';

/** One volume a Prometheus server measures, for one origin. */
export interface PrometheusVolume {
  readonly origin: string;
  /** Where the volume is configured, so that an error names the key to change. */
  readonly at: string;
  readonly config: PrometheusVolumeConfig;
}

/** The server's settings, shared by every origin whose volumes it measures. */
export type PrometheusServer = Omit<PrometheusSourceConfig, 'volumes'>;

const FIGURES = ['totalBytes', 'availableBytes', 'totalInodes', 'freeInodes'] as const;
const KEYS = { totalBytes: 'total', availableBytes: 'available', totalInodes: 'totalInodes', freeInodes: 'freeInodes' } as const;
/** Marks kept per volume: enough to reach back over any scrape interval a volume is still fresh after. */
const MAX_MARKS = 64;

interface Watched {
  readonly volume: PrometheusVolume;
  readonly state: VolumeState;
  /** Written marks taken at the starts of recent queries, oldest first. */
  readonly marks: Array<{ readonly at: number; readonly mark: WrittenMark }>;
}

/**
 * Asks a Prometheus server (`/api/v1/query`) on its interval for every
 * figure of every volume it measures — those of all origins configured with
 * that server — in one combined query, evaluated at the gateway's clock.
 * When Prometheus refuses it (an expression that does not parse or fails),
 * each expression is asked alone, so that the broken one is named on its
 * volume and the others are still used. Each expression must give exactly
 * one sample; a snapshot is dated by the oldest of its figures' sample
 * times, so a figure scraped long ago is never taken as fresh.
 */
export function startPrometheusSource(
  server: PrometheusServer,
  volumes: readonly PrometheusVolume[],
  registry: HeadroomRegistry,
  statuses: readonly SourceStatus[],
  logger: Logger,
  tracer: Tracer | null,
): () => void {
  const url = `${server.url}/api/v1/query`;
  const headers = server.token ? { authorization: `Bearer ${server.token}` } : {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const watched: Watched[] = volumes.map((volume) => ({ volume, state: registry.volume(volume.origin, volume.config.name), marks: [] }));
  const expressions = new Map<string, string>();
  watched.forEach((w, i) => FIGURES.forEach((f) => w.volume.config[KEYS[f]] !== '' && expressions.set(`${i}_${f}`, w.volume.config[KEYS[f]])));
  /** The last failed query's error, so that a lasting one is logged once; null after a good one. */
  let logged: string | null = null;

  /** The answer to one query evaluated at `at`, and its HTTP status (null: none came). */
  const ask = async (exprs: ReadonlyMap<string, string>, at: number): Promise<{ answer: QueryAnswer; status: number | null }> => {
    const form = new URLSearchParams({ query: combinedQuery(exprs), time: (at / 1000).toFixed(3) }).toString();
    const result = await poll(url, { timeout: server.timeout, maxBytes: server.maxAnswerSize, headers, agent, form });
    if (!result.ok) {
      const hint = result.error.startsWith('answer larger') ? ': raise maxAnswerSize, or make the expressions select fewer series' : result.error.startsWith('no answer') ? ': raise timeout, or make the expressions cheaper' : '';
      return { answer: { ok: false, error: `${result.error}${hint}`, refused: false }, status: null };
    }
    return { answer: parseQueryAnswer(result.status, result.body), status: result.status };
  };

  const once = async (): Promise<PollOutcome> => {
    const sentAt = Date.now();
    for (const w of watched) {
      w.marks.push({ at: sentAt, mark: w.state.writtenMark(sentAt) });
      if (w.marks.length > MAX_MARKS) w.marks.shift();
    }
    const { answer, status } = await ask(expressions, sentAt);
    let error: string | null = null;
    if (answer.ok) watched.forEach((w, i) => take(w, i, answer.figures, sentAt));
    else if (answer.refused) {
      // Which expression is broken: each alone, the good ones still used.
      for (const [i, w] of watched.entries()) {
        const figures = new Map<string, FigureSamples>();
        let failed: string | null = null;
        for (const f of FIGURES) {
          const id = `${i}_${f}`;
          const expr = expressions.get(id);
          if (expr === undefined || failed) continue;
          const { answer: alone } = await ask(new Map([[id, expr]]), sentAt);
          if (alone.ok) alone.figures.forEach((v, k) => figures.set(k, v));
          else failed = `${w.volume.at}.${KEYS[f]}: ${alone.error}`;
        }
        if (failed) fail(w, failed);
        else take(w, i, figures, sentAt);
      }
    } else error = answer.error;
    if (error !== null && !sameKind(error, logged)) logger.warn({ msg: 'Prometheus query failed; nothing from it is used', url, error });
    logged = error;
    for (const s of statuses) s.report(error);
    return { error, status };
  };

  /** A volume's figures from a good answer: each expression exactly one sample, the snapshot dated by the oldest. */
  const take = (w: Watched, i: number, figures: ReadonlyMap<string, FigureSamples>, sentAt: number): void => {
    const read: Partial<Record<(typeof FIGURES)[number], number | null>> = {};
    let takenAt = sentAt;
    for (const f of FIGURES) {
      const expr = w.volume.config[KEYS[f]];
      if (expr === '') {
        read[f] = null;
        continue;
      }
      const samples = figures.get(`${i}_${f}`) ?? { values: [], measuredAt: [] };
      if (samples.values.length !== 1) {
        const hint = samples.values.length === 0 ? 'no sample (no such series, or it went stale: is its target up?)' : `${samples.values.length} samples (narrow the selector by its labels, or aggregate: max(…), sum(…))`;
        return fail(w, `${w.volume.at}.${KEYS[f]}: ${JSON.stringify(expr)} gave ${hint}; exactly one is needed`);
      }
      const measuredAt = samples.measuredAt.length === 1 ? samples.measuredAt[0]! : NaN;
      // Without its time a figure could be of any age: not used.
      if (!Number.isFinite(measuredAt)) return fail(w, `${w.volume.at}.${KEYS[f]}: the answer gave no sample time for ${JSON.stringify(expr)}: is url a Prometheus server?`);
      read[f] = samples.values[0]!;
      takenAt = Math.min(takenAt, Math.floor(measuredAt));
    }
    const at = w.volume.at;
    const checked = checkFigures(read as RemoteFigures, { totalBytes: `${at}.total`, availableBytes: `${at}.available`, totalInodes: `${at}.totalInodes`, freeInodes: `${at}.freeInodes` });
    if (!checked.ok) return fail(w, checked.error);
    w.state.record({ ...checked.figures, takenAt, source: 'prometheus' }, markAt(w, takenAt));
  };

  const fail = (w: Watched, error: string): void => {
    if (!sameKind(w.state.lastError, error)) logger.warn({ msg: 'Prometheus gives no figures for a configured volume', origin: w.volume.origin, volume: w.state.volume, error });
    w.state.recordError(error);
  };

  // One query serves every origin on this server: the span names no origin.
  const traced = pollSpans(tracer, 'headroom.poll prometheus', { 'http.request.method': 'POST', 'url.full': url });
  const stop = every(server.interval, () => traced(once));
  return () => {
    stop();
    agent.destroy();
  };
}

/**
 * The written mark for figures Prometheus measured at `takenAt`, before the
 * query that brought them: the mark of the latest query that started no
 * later than that. A mark taken when this query started would take writes
 * between the sample and the query as shown, and so undercount; an earlier
 * one only counts some writes twice. (VolumeState.markAt is for processes
 * that sample their counters; this one keeps the marks it took.) With no
 * mark old enough, the zero mark: the snapshot is taken to show no more
 * than the one before it did.
 */
function markAt(w: Watched, takenAt: number): WrittenMark {
  let found: WrittenMark = { bytes: 0, inodes: 0, ended: 0, inFlight: 0 };
  while (w.marks.length > 0 && w.marks[0]!.at <= takenAt) {
    found = w.marks[0]!.mark;
    if (w.marks.length > 1 && w.marks[1]!.at <= takenAt) w.marks.shift();
    else break;
  }
  return found;
}
