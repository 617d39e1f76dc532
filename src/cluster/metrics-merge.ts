/** One process's Prometheus text, and the `worker` label its samples get (null: none, the primary's own). */
export interface MetricsPart {
  readonly worker: string | null;
  readonly text: string;
}

interface Family {
  help: string | null;
  type: string | null;
  unit: string | null;
  readonly samples: string[];
}

/**
 * The group's `/metrics`: every process's families merged into one valid
 * exposition — each family's HELP, TYPE (and UNIT) once, then its samples from
 * every process, a worker's labelled `worker="<slot>"` so that no sample
 * stands for two processes (a sum over `worker` is the group's figure).
 */
export function mergeMetrics(parts: readonly MetricsPart[]): string {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { help: null, type: null, unit: null, samples: [] }));
    return f;
  };
  for (const { worker, text } of parts) {
    /** The family the latest HELP or TYPE named: a histogram's _bucket, _sum and _count samples belong to it. */
    let currentName: string | null = null;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const meta = /^# (HELP|TYPE|UNIT) (\S+) ?(.*)$/.exec(line);
      if (meta) {
        const f = family((currentName = meta[2]!));
        if (meta[1] === 'HELP') f.help ??= line;
        else if (meta[1] === 'TYPE') f.type ??= line;
        else f.unit ??= line;
        continue;
      }
      if (line.startsWith('#')) continue;
      const name = /^[^{\s]+/.exec(line)![0];
      const owner = currentName !== null && name.startsWith(currentName) ? currentName : name;
      family(owner).samples.push(worker === null ? line : labelled(line, name, worker));
    }
  }
  const out: string[] = [];
  for (const f of families.values()) {
    if (f.help) out.push(f.help);
    if (f.type) out.push(f.type);
    if (f.unit) out.push(f.unit);
    out.push(...f.samples);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** A sample line with `worker="<slot>"` added to its labels. */
function labelled(line: string, name: string, worker: string): string {
  const rest = line.slice(name.length);
  const label = `worker="${worker}"`;
  if (rest.startsWith('{}')) return `${name}{${label}}${rest.slice(2)}`;
  if (rest.startsWith('{')) return `${name}{${label},${rest.slice(1)}`;
  return `${name}{${label}}${rest}`;
}
