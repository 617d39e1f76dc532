/** One sample line of the Prometheus text format. */
export interface ExposedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** As written: NaN and ±Inf are the format's own values, for the reader to refuse. */
  readonly value: number;
  readonly line: number;
}

export type Exposition = { ok: true; samples: ExposedSample[] } | { ok: false; error: string };

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[Ii]nf|NaN|nan)$/;
const TIMESTAMP = /^-?\d+$/;

/**
 * Reads the Prometheus text format (version 0.0.4, what node_exporter
 * serves) strictly: every line must be a comment or a well-formed sample,
 * and no series (name and labels) may appear twice — the whole answer is
 * refused with the line that is wrong, never read in part or by a guess.
 * Only samples named in `wanted` are kept. A sample's own timestamp is
 * checked but not kept: node_exporter measures when it is scraped.
 */
export function parseExposition(text: string, wanted: ReadonlySet<string>): Exposition {
  const samples: ExposedSample[] = [];
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '').trimStart();
    if (line.trim() === '' || line.startsWith('#')) continue;
    const sample = parseSample(line, i + 1);
    if (typeof sample === 'string') return { ok: false, error: `line ${i + 1}: ${sample}: ${JSON.stringify(line.slice(0, 80))}` };
    if (!wanted.has(sample.name)) continue;
    const key = seriesKey(sample);
    const first = seen.get(key);
    if (first !== undefined) return { ok: false, error: `line ${i + 1}: the series of line ${first} again (${sample.name}${JSON.stringify(sample.labels)})` };
    seen.set(key, i + 1);
    samples.push(sample);
  }
  return { ok: true, samples };
}

/** The sample on `line`, or what is wrong with it. */
function parseSample(line: string, at: number): ExposedSample | string {
  const name = NAME.exec(line)?.[0];
  if (!name) return 'expected a metric name';
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1).trimStart();
    while (!rest.startsWith('}')) {
      const label = LABEL_NAME.exec(rest)?.[0];
      if (!label) return 'expected a label name or "}"';
      rest = rest.slice(label.length).trimStart();
      if (!rest.startsWith('="') && !rest.startsWith('= "')) return `expected ="…" after label ${label}`;
      rest = rest.slice(rest.indexOf('"') + 1);
      const value = readQuoted(rest);
      if (value === null) return `label ${label}: unterminated or badly escaped value`;
      if (label in labels) return `label ${label} given twice`;
      labels[label] = value.text;
      rest = rest.slice(value.length).trimStart();
      if (rest.startsWith(',')) rest = rest.slice(1).trimStart();
      else if (!rest.startsWith('}')) return 'expected "," or "}" after a label';
    }
    rest = rest.slice(1);
  }
  if (!/^[ \t]/.test(rest)) return 'expected a space and a value after the series';
  const fields = rest.trim().split(/[ \t]+/);
  if (fields.length > 2) return 'expected a value and at most a timestamp';
  if (!FLOAT.test(fields[0]!)) return `value ${JSON.stringify(fields[0])} is not a number`;
  if (fields[1] !== undefined && !TIMESTAMP.test(fields[1])) return `timestamp ${JSON.stringify(fields[1])} is not milliseconds`;
  return { name, labels, value: Number(fields[0]!.replace(/^([+-]?)[Ii]nf$/, '$1Infinity').replace(/^nan$/, 'NaN')), line: at };
}

/** A label value up to its closing quote, unescaped (\\, \", \n), with how many characters it took; null when malformed. */
function readQuoted(s: string): { text: string; length: number } | null {
  let text = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') return { text, length: i + 1 };
    if (c !== '\\') {
      text += c;
      continue;
    }
    const next = s[++i];
    if (next === '\\') text += '\\';
    else if (next === '"') text += '"';
    else if (next === 'n') text += '\n';
    else return null;
  }
  return null;
}

function seriesKey(sample: ExposedSample): string {
  return JSON.stringify([sample.name, ...Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1))]);
}
