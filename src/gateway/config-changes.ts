import type { GatewayConfig } from '../config/types.js';

type Section = keyof GatewayConfig;

/** Read once at start; a reload that changes them says so instead of applying them. */
const AT_START: readonly Section[] = ['telemetry', 'ledger', 'workers'];

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * What a reload changes, for its log line: the sections that differ, with
 * origins named one by one (added, removed, changed).
 */
export function configChanges(before: GatewayConfig, next: GatewayConfig): string[] {
  const changed: string[] = [];
  for (const section of Object.keys(next) as Section[]) {
    if (section === 'origins' || AT_START.includes(section)) continue;
    if (!same(before[section], next[section])) changed.push(section);
  }
  const was = new Map(before.origins.map((o) => [o.name, o]));
  const is = new Map(next.origins.map((o) => [o.name, o]));
  for (const [name, origin] of is) {
    const old = was.get(name);
    if (!old) changed.push(`origin ${name} added`);
    else if (!same(old, origin)) changed.push(`origin ${name} changed`);
  }
  for (const name of was.keys()) if (!is.has(name)) changed.push(`origin ${name} removed`);
  return changed;
}

/** The sections read only at start (`started`) that a reload's `next` differs in: they stay as started. */
export function restartOnly(started: GatewayConfig, next: GatewayConfig): Section[] {
  return AT_START.filter((section) => !same(started[section], next[section]));
}
