import { formats } from './formats.js';

export interface StructureResult {
  readonly problems: string[];
  /** The input without the keys that had structural problems. */
  readonly cleaned: Record<string, unknown>;
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isLeaf = (node: object): boolean => 'default' in node;

/**
 * Checks the shape of a config object against a convict schema before
 * convict sees it: unknown keys, a mapping where a value belongs, a value
 * where a mapping belongs. Convict drops such values silently (a mapping
 * given for a list comes back as the default), so they are caught here,
 * each reported once at the key where it happened.
 */
export function checkStructure(schema: object, data: Record<string, unknown>, prefix: string): StructureResult {
  const problems: string[] = [];
  const cleaned: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    const node = (schema as Record<string, object | undefined>)[key];
    const at = `${prefix}${key}`;
    if (node === undefined) {
      problems.push(`${at}: unknown key`);
    } else if (!isLeaf(node)) {
      if (!isMapping(value)) {
        problems.push(`${at}: expected a mapping of keys to values, got ${JSON.stringify(value)}`);
        continue;
      }
      const inner = checkStructure(node, value, `${at}.`);
      problems.push(...inner.problems);
      cleaned[key] = inner.cleaned;
    } else if (isMapping(value) && (node as { format?: unknown }).format !== 'optional-object') {
      problems.push(`${at}: ${expectation(node)}, got ${JSON.stringify(value)}`);
    } else {
      // Convict coerces only text; its default for a size-or-share is a mapping, which a number would not replace.
      cleaned[key] = typeof value === 'number' && (node as { format?: unknown }).format === 'size-or-share' ? String(value) : value;
    }
  }
  return { problems, cleaned };
}

/** What a leaf expects, in its format's own words where it has some. */
function expectation(leaf: object): string {
  const format = (leaf as { format?: unknown }).format;
  const named = typeof format === 'string' ? formats[format] : undefined;
  try {
    named?.validate?.({}, leaf as never);
  } catch (err) {
    return (err as Error).message;
  }
  return Array.isArray(format) ? `expected one of ${JSON.stringify(format)}` : 'expected a single value, not a mapping';
}
