import type { Amount } from './formats.js';

/**
 * What each named format's values are once validated (formats.ts defines
 * the named ones; `nat` is convict's own).
 */
interface FormatValues {
  readonly port: number;
  readonly nat: number;
  readonly size: number;
  readonly share: number;
  readonly duration: number;
  readonly 'positive-duration': number;
  readonly 'count-or-auto': number | 'auto';
  readonly workers: number | 'auto';
  readonly 'size-or-share': Amount;
  readonly token: string;
  readonly 'http-url': string;
  readonly 'redis-url': string;
  readonly 'status-list': ReadonlyArray<string | number>;
  readonly 'string-list': readonly string[];
  readonly 'cidr-list': readonly string[];
  readonly 'optional-object': Readonly<Record<string, unknown>> | null;
  readonly 'json-array': readonly unknown[];
}

type ValueOf<Format> = Format extends StringConstructor
  ? string
  : Format extends BooleanConstructor
    ? boolean
    : Format extends readonly (infer Choice)[]
      ? Choice
      : Format extends keyof FormatValues
        ? FormatValues[Format]
        : never;

/**
 * The validated configuration a schema describes: each leaf's type follows
 * from its format (and `nullable`), so the types cannot drift from the
 * schema convict validates against.
 */
export type ConfigOf<Schema> = {
  readonly [Key in keyof Schema]: Schema[Key] extends { readonly format: infer Format; readonly default: unknown }
    ? ValueOf<Format> | (Schema[Key] extends { readonly nullable: true } ? null : never)
    : ConfigOf<Schema[Key]>;
};

/** A format that takes one of `choices`, typed as their union. */
export function oneOf<const Choice extends string>(...choices: Choice[]): Choice[] {
  return choices;
}

/**
 * The loaded values of a convict config made from `schema`, typed by it:
 * the one place where convict's properties (which it types by the
 * defaults' literal values) become the schema's type. Sound only after `validate({ allowed: 'strict' })` found no
 * problem — callers report problems before using the values.
 */
export function validatedValues<Schema>(config: { getProperties(): unknown }, _schema: Schema): ConfigOf<Schema> {
  return config.getProperties() as ConfigOf<Schema>;
}
