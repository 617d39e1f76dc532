import { readFileSync } from 'node:fs';
import YAML from 'yaml';

export type FileResult = { ok: true; data: Record<string, unknown> } | { ok: false; problems: string[] };

/**
 * Reads a YAML or JSON config file (JSON is read as YAML 1.2, of which it is
 * a subset, so both report problems with line and column).
 */
export function readConfigFile(file: string): FileResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, problems: [`${file}: cannot read the file (${code})`] };
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const at = e.linePos?.[0];
        const where = at ? `${file}:${at.line}:${at.col}` : file;
        return `${where}: malformed ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`;
      }),
    };
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return { ok: true, data: {} };
  if (typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, problems: [`${file}: expected a mapping of keys to values at the top level`] };
  }
  return { ok: true, data: data as Record<string, unknown> };
}
