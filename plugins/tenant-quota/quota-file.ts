import { readFile } from 'node:fs/promises';
import YAML from 'yaml';
import { sizeOf } from '../../src/index.js';

/** The quotas a file gives: per tenant, and for every other tenant (`default`, null when there is none). */
export interface Quotas {
  readonly tenants: ReadonlyMap<string, number>;
  readonly default: number | null;
}

export type QuotaFileResult = { readonly ok: true; readonly quotas: Quotas } | { readonly ok: false; readonly problems: readonly string[] };

/** A tenant's quota: its own, else the default; null when it has none (its writes are not judged). */
export const quotaOf = (quotas: Quotas, tenant: string): number | null => quotas.tenants.get(tenant) ?? quotas.default;

/**
 * Reads a quota file (YAML, or JSON as its subset):
 *
 *     default: 10GiB
 *     tenants:
 *       alice: 20GiB
 *
 * Each problem names the file and the entry.
 */
export async function readQuotaFile(file: string): Promise<QuotaFileResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ok: false, problems: [`${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`] };
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const at = e.linePos?.[0];
        return `${at ? `${file}:${at.line}:${at.col}` : file}: malformed: ${e.message.split('\n')[0]}`;
      }),
    };
  }
  return quotasFrom(doc.toJS() as unknown, file);
}

const isMapping = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const EXPECTED_SIZE = 'expected a size like 10737418240 or "10GiB"';

function quotasFrom(data: unknown, file: string): QuotaFileResult {
  if (data === null || data === undefined) data = {};
  if (!isMapping(data)) return { ok: false, problems: [`${file}: expected a mapping with "default" and "tenants"`] };
  const problems: string[] = [];
  for (const key of Object.keys(data)) if (key !== 'default' && key !== 'tenants') problems.push(`${file}: ${key}: not a key of a quota file (expected "default" and "tenants")`);
  let fallback: number | null = null;
  if (data.default !== undefined && data.default !== null) {
    fallback = sizeOf(data.default);
    if (fallback === null) problems.push(`${file}: default: ${EXPECTED_SIZE}, not ${JSON.stringify(data.default)}`);
  }
  const tenants = new Map<string, number>();
  const listed = data.tenants ?? {};
  if (!isMapping(listed)) problems.push(`${file}: tenants: expected a mapping of tenant names to sizes`);
  else {
    for (const [tenant, value] of Object.entries(listed)) {
      const problem = tenantNameProblem(tenant);
      if (problem !== null) problems.push(`${file}: tenants.${tenant}: ${problem}`);
      const quota = sizeOf(value);
      if (quota === null) problems.push(`${file}: tenants.${tenant}: ${EXPECTED_SIZE}, not ${JSON.stringify(value)}`);
      else tenants.set(tenant, quota);
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, quotas: { tenants, default: fallback } };
}

/**
 * Why a name cannot be a tenant's, or null. A tenant's name is also the
 * name of its directory under the usage root, so it is one path segment.
 */
export function tenantNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > 255) return 'a tenant name has 1 to 255 characters';
  if (name === '.' || name === '..' || /[/\\\0]/.test(name)) return 'a tenant name is one path segment (no "/", "\\", NUL, "." or "..")';
  return null;
}
