/** The label each figure's series is tagged with in a combined query. */
export const FIGURE_LABEL = 'headroom_figure';

/** What one expression gave at the query's time: its values, and when each was measured (`Date.now()` scale). */
export interface FigureSamples {
  readonly values: number[];
  readonly measuredAt: number[];
}

export type QueryAnswer =
  | { ok: true; figures: Map<string, FigureSamples> }
  /** `refused`: Prometheus could not run the query (bad PromQL, or one of its expressions failed), as opposed to a broken answer. */
  | { ok: false; error: string; refused: boolean };

/**
 * One PromQL query for many expressions: each tagged by `label_replace`
 * with its id (`v<id>`), joined by `or` with its `timestamp()` (`t<id>`),
 * so that one request per interval brings every figure of every volume on
 * that server and when each was measured. `timestamp()` of a series read
 * as it was scraped is its scrape time; of a computed one (sum, arithmetic),
 * the query's time.
 */
export function combinedQuery(expressions: ReadonlyMap<string, string>): string {
  const parts: string[] = [];
  for (const [id, expr] of expressions) {
    parts.push(`label_replace((${expr}), "${FIGURE_LABEL}", "v${id}", "__name__", ".*")`);
    parts.push(`label_replace(timestamp((${expr})), "${FIGURE_LABEL}", "t${id}", "__name__", ".*")`);
  }
  return parts.join(' or ');
}

/**
 * Reads `/api/v1/query`'s JSON answer to a combined query into samples by
 * figure id. Values are Prometheus's strings (NaN and ±Inf included) as numbers.
 */
export function parseQueryAnswer(status: number, text: string): QueryAnswer {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, error: `HTTP ${status}, not JSON: ${JSON.stringify(text.slice(0, 60))}: check that url names the Prometheus server (e.g. http://prometheus:9090)`, refused: false };
  }
  const answer = (typeof data === 'object' && data !== null ? data : {}) as { status?: unknown; error?: unknown; errorType?: unknown; data?: { resultType?: unknown; result?: unknown } };
  if (answer.status === 'error') {
    // bad_data: the PromQL does not parse; execution: an expression failed as it ran (e.g. duplicate series).
    const refused = answer.errorType === 'bad_data' || answer.errorType === 'execution';
    return { ok: false, error: `Prometheus answered ${status} ${String(answer.errorType)}: ${String(answer.error).slice(0, 300)}`, refused };
  }
  if (status !== 200 || answer.status !== 'success') return { ok: false, error: `HTTP ${status}: not a Prometheus query answer`, refused: false };
  if (answer.data?.resultType !== 'vector' || !Array.isArray(answer.data.result)) {
    return { ok: false, error: `expected an instant vector, got ${JSON.stringify(answer.data?.resultType)}: write each expression so that it gives a vector (wrap a number as vector(…))`, refused: true };
  }
  const figures = new Map<string, FigureSamples>();
  const of = (id: string): FigureSamples => {
    let f = figures.get(id);
    if (!f) figures.set(id, (f = { values: [], measuredAt: [] }));
    return f;
  };
  for (const item of answer.data.result as unknown[]) {
    const { metric, value } = (item ?? {}) as { metric?: Record<string, unknown>; value?: unknown };
    const tag = metric?.[FIGURE_LABEL];
    if (typeof tag !== 'string' || !Array.isArray(value) || value.length !== 2 || typeof value[1] !== 'string') {
      return { ok: false, error: 'a result is not { metric, value: [time, "number"] }: not a Prometheus query answer', refused: false };
    }
    const n = Number(value[1].replace(/^([+-]?)Inf$/, '$1Infinity'));
    const id = tag.slice(1);
    if (tag.startsWith('v')) of(id).values.push(value[1] === 'NaN' ? NaN : n);
    else if (tag.startsWith('t')) of(id).measuredAt.push(n * 1000);
  }
  return { ok: true, figures };
}
