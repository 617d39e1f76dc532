import convict from 'convict';
import { validatedValues, type ConfigOf } from './shape.js';
import './formats.js';
import { checkStructure } from './structure.js';

export interface SectionResult<T> {
  /** Null only when the value is not a mapping; otherwise read even with problems, so nested sections are checked too. */
  readonly value: T | null;
  readonly problems: string[];
}

/**
 * Turns convict's error text into lines of the form
 * `<key path>: <what was expected>, got <value>`.
 */
export function problemLines(convictMessage: string, prefix: string): string[] {
  return convictMessage
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const undeclared = /^configuration param '(.+)' not declared in the schema$/.exec(line);
      if (undeclared) return `${prefix}${undeclared[1]}: unknown key`;
      const missing = /^configuration param '(.+)' missing from config/.exec(line);
      if (missing) return `${prefix}${missing[1]}: missing; its parent must be a mapping`;
      const withValue = /^(.+?): (.*): value was (.*)$/.exec(line);
      if (withValue) return `${prefix}${withValue[1]}: ${withValue[2].trim()}, got ${withValue[3]}`;
      return `${prefix}${line.replace(/: {2,}/, ': ')}`;
    });
}

/**
 * Validates one object (a list element, or a nested optional section) against
 * its schema, strictly: unknown keys and missing required keys are problems.
 * `path` is the element's key path, e.g. `origins[1]`.
 */
export function validateSection<S extends convict.Schema<unknown>>(
  schema: S,
  value: unknown,
  path: string,
  requiredKeys: readonly string[],
): SectionResult<ConfigOf<S>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { value: null, problems: [`${path}: expected a mapping of keys to values, got ${JSON.stringify(value)}`] };
  }
  const problems: string[] = [];
  const given = value as Record<string, unknown>;
  for (const key of requiredKeys) {
    if (given[key] === undefined || given[key] === null || given[key] === '') {
      problems.push(`${path}.${key}: missing; this key is required`);
    }
  }
  const structure = checkStructure(schema, given, `${path}.`);
  problems.push(...structure.problems);
  const section = convict(schema, { env: {}, args: [] });
  try {
    section.load(structure.cleaned);
    section.validate({ allowed: 'strict' });
  } catch (err) {
    const lines = problemLines((err as Error).message, `${path}.`);
    // A missing required key is reported once, not again as a format error.
    problems.push(...lines.filter((l) => !problems.some((p) => l.startsWith(p.split(':')[0] + ':'))));
  }
  return { value: validatedValues(section, schema), problems };
}
