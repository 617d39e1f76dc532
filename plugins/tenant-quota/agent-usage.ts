import http from 'node:http';
import https from 'node:https';
import { poll, type Logger, type RoomFigures } from '../../src/index.js';
import { tenantNameProblem } from './quota-file.js';

/** A tenant's figures in an agent's answer. */
export interface TenantFigures {
  readonly bytes: number;
  /** When the agent's walk of the tenant's directory started, by the agent's clock (ms). */
  readonly measuredAt: number;
}

/** An agent's `/v1/usage` answer for one root: its clock when it answered, and each tenant it measured. */
export type UsageAnswer = { readonly ok: true; readonly time: number; readonly tenants: ReadonlyMap<string, TenantFigures> } | { readonly ok: false; readonly error: string };

const refuse = (error: string): UsageAnswer => ({ ok: false, error });

/** An ISO 8601 date as ms, or null. */
function dateOf(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * Reads an agent's `/v1/usage` answer for `root` strictly: the whole answer
 * is refused (with why) unless it is the API's shape, with `time` a date,
 * the root once, each directory once, and every figure a non-negative
 * integer measured no later than `time`. A directory the agent reports an
 * `error` for, or whose name cannot be a tenant's, is left out: its tenant
 * gets no figures from this answer.
 */
export function parseUsageAnswer(text: string, root: string): UsageAnswer {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return refuse(`not JSON: ${JSON.stringify(text.slice(0, 40))}`);
  }
  if (typeof data !== 'object' || data === null || !Array.isArray((data as { roots?: unknown }).roots)) return refuse('expected an object with a "roots" list');
  const answer = data as { time?: unknown; roots: unknown[] };
  const time = dateOf(answer.time);
  if (time === null) return refuse(`time: expected an ISO 8601 date, got ${JSON.stringify(answer.time)}`);
  const matching = answer.roots.flatMap((r, i) => (typeof r === 'object' && r !== null && (r as { root?: unknown }).root === root ? [i] : []));
  if (matching.length === 0) return refuse(`root ${JSON.stringify(root)} is not in the agent’s answer: check that the agent’s usage.roots names it so`);
  if (matching.length > 1) return refuse(`roots[${matching[1]}].root: ${JSON.stringify(root)} is already roots[${matching[0]}]`);
  const at = `roots[${matching[0]}]`;
  const entry = answer.roots[matching[0]!] as { listedAt?: unknown; error?: unknown; directories?: unknown };
  if (typeof entry.error === 'string') return refuse(`${at}: the agent cannot list the root: ${entry.error}`);
  if (!Array.isArray(entry.directories)) return refuse(`${at}.directories: expected a list`);
  const tenants = new Map<string, TenantFigures>();
  const seen = new Set<string>();
  for (const [i, d] of entry.directories.entries()) {
    const where = `${at}.directories[${i}]`;
    if (typeof d !== 'object' || d === null) return refuse(`${where}: expected an object`);
    const dir = d as Record<string, unknown>;
    if (typeof dir.name !== 'string') return refuse(`${where}.name: expected a string`);
    if (seen.has(dir.name)) return refuse(`${where}.name: ${JSON.stringify(dir.name)} is reported twice`);
    seen.add(dir.name);
    if (typeof dir.error === 'string') continue;
    if (dir.error !== null && dir.error !== undefined) return refuse(`${where}.error: expected null or a string`);
    for (const key of ['bytes', 'files'] as const) {
      if (!isCount(dir[key])) return refuse(`${where}.${key}: expected a non-negative integer, got ${JSON.stringify(dir[key]) ?? 'nothing'}`);
    }
    const measuredAt = dateOf(dir.measuredAt);
    if (measuredAt === null) return refuse(`${where}.measuredAt: expected an ISO 8601 date, got ${JSON.stringify(dir.measuredAt)}`);
    if (measuredAt > time) return refuse(`${where}.measuredAt: ${String(dir.measuredAt)} is after the answer’s time ${String(answer.time)}`);
    if (tenantNameProblem(dir.name) === null) tenants.set(dir.name, { bytes: dir.bytes as number, measuredAt });
  }
  return { ok: true, time, tenants };
}

export interface AgentUsageOptions {
  /** The agent's base URL; `{url}/v1/usage` is polled. */
  readonly url: string;
  readonly token: string;
  readonly interval: number;
  readonly timeout: number;
  readonly maxAnswerBytes: number;
  /** The root as the agent names it; a tenant's directory is the one of its name directly under it. */
  readonly root: string;
  readonly staleAfter: number;
}

/** What the agent source asks of the plugin. */
export interface UsageHooks {
  /** The room guard's `measure`: figures taken as of the moment it is called. */
  measure(tenant: string, read: () => Promise<RoomFigures> | RoomFigures): Promise<void>;
  /** A tenant's quota (the figures' total); null when it has none. */
  totalOf(tenant: string): number | null;
  /** The tenants to measure, given those the answer reports. */
  tenants(reported: Iterable<string>): readonly string[];
  readonly logger: Logger;
}

/** A measurement begun and not yet answered. */
interface Pending {
  /** Polls sent when it began: only the answer to a later one can date it. */
  readonly after: number;
  /** The agent's `time` in the first answer to a poll sent after it began; null until then. */
  threshold: number | null;
  readonly resolve: (figures: RoomFigures) => void;
}

/**
 * Tenant usage from an agent's `GET /v1/usage`, polled every `interval`
 * (the next poll is scheduled when one ends).
 *
 * The agent walks on its own schedule, so a figure can be older than the
 * poll that brings it. Figures are taken as of the moment a measurement
 * begins (what the gateway had written by then is taken as shown), so a
 * measurement may only be answered by a walk that started after it began,
 * or bytes written in between would be missed. The two clocks are never
 * compared: an answer to a poll sent after the measurement began carries
 * the agent's `time`, later than that beginning; a walk whose `measuredAt`
 * is at or after that `time` started later still. Only such a walk answers
 * it; older figures wait for a newer walk. Until then — and for a tenant
 * the agent does not report, a bad answer or no answer — the tenant's
 * figures age, and when older than `staleAfter` the gateway's
 * `policy.onUnknown` applies, as for any room without fresh figures.
 */
export class AgentUsage {
  readonly #options: AgentUsageOptions;
  readonly #hooks: UsageHooks;
  readonly #url: string;
  readonly #headers: http.OutgoingHttpHeaders;
  readonly #agent: http.Agent;
  readonly #pending = new Map<string, Pending>();
  #sent = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  /** What the current run of failed polls was last logged as (its error without figures); null after a good answer. */
  #logged: string | null = null;

  constructor(options: AgentUsageOptions, hooks: UsageHooks) {
    this.#options = options;
    this.#hooks = hooks;
    this.#url = `${options.url.replace(/\/+$/, '')}/v1/usage`;
    this.#headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
    const Agent = this.#url.startsWith('https:') ? https.Agent : http.Agent;
    this.#agent = new Agent({ keepAlive: true, maxSockets: 1 });
  }

  /**
   * The first poll, then one every interval. `fresh` when the plugin has
   * judged no write yet (it starts before the gateway serves): its rooms
   * then count no bytes for a figure to miss, so the first answer's figures
   * are taken as they are, however old the walk (those older than
   * `staleAfter` by the agent's clock excepted). Otherwise (a reload) the
   * first answer only dates measurements begun now.
   */
  async start(fresh: boolean): Promise<void> {
    const answer = await this.#ask();
    if (answer !== null) {
      for (const tenant of this.#hooks.tenants(answer.tenants.keys())) {
        const figures = answer.tenants.get(tenant);
        if (fresh && figures && answer.time - figures.measuredAt <= this.#options.staleAfter) await this.#record(tenant, () => this.#figures(tenant, figures));
        this.want(tenant);
      }
    }
    this.#schedule();
  }

  /** Begins a measurement of `tenant` unless one is waiting for its answer. */
  want(tenant: string): void {
    if (this.#closed || this.#pending.has(tenant)) return;
    const after = this.#sent;
    void this.#record(tenant, () => new Promise<RoomFigures>((resolve) => this.#pending.set(tenant, { after, threshold: null, resolve })));
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    // Waiting measurements are dropped unanswered: their tenants keep the figures they had.
    this.#pending.clear();
    this.#agent.destroy();
  }

  #record(tenant: string, read: () => Promise<RoomFigures> | RoomFigures): Promise<void> {
    return this.#hooks.measure(tenant, read).catch((err: Error) => this.#hooks.logger.warn({ msg: 'tenant usage measurement failed', tenant, error: err.message }));
  }

  #figures(tenant: string, figures: TenantFigures): RoomFigures {
    return { totalBytes: this.#hooks.totalOf(tenant) ?? 0, usedBytes: figures.bytes };
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#round().finally(() => this.#schedule()), this.#options.interval);
    this.#timer.unref();
  }

  async #round(): Promise<void> {
    const seq = this.#sent + 1;
    const answer = await this.#ask();
    if (answer === null || this.#closed) return;
    for (const [tenant, pending] of this.#pending) {
      const figures = answer.tenants.get(tenant);
      if (pending.threshold !== null && figures && figures.measuredAt >= pending.threshold) {
        this.#pending.delete(tenant);
        pending.resolve(this.#figures(tenant, figures));
      } else if (pending.threshold === null && seq > pending.after) pending.threshold = answer.time;
    }
    const tenants = new Set(this.#hooks.tenants(answer.tenants.keys()));
    // A tenant gone (from the quota file, or a name written to once) is no longer waited for.
    for (const tenant of this.#pending.keys()) if (!tenants.has(tenant)) this.#pending.delete(tenant);
    for (const tenant of tenants) this.want(tenant);
  }

  /** One poll: the answer, or null (logged once per run of the same failure). */
  async #ask(): Promise<(UsageAnswer & { ok: true }) | null> {
    this.#sent++;
    const { timeout, maxAnswerBytes, root } = this.#options;
    const result = await poll(this.#url, { timeout, maxBytes: maxAnswerBytes, headers: this.#headers, agent: this.#agent });
    let error: string;
    if (!result.ok) error = result.error;
    else if (result.status !== 200) error = `HTTP ${result.status}`;
    else {
      const answer = parseUsageAnswer(result.body, root);
      if (answer.ok) {
        this.#logged = null;
        return answer;
      }
      error = `bad answer: ${answer.error}`;
    }
    // Figures and names in an error move from poll to poll; the defect they show does not.
    const kind = error.replace(/"[^"]*"|\d{4}-\d\d-\d\dT[\d:.]+Z?|got -?[\d.e+]+/g, '…');
    if (kind !== this.#logged && !this.#closed) this.#hooks.logger.warn({ msg: 'tenant usage poll failed; nothing from it is used', url: this.#url, error });
    this.#logged = kind;
    return null;
  }
}
