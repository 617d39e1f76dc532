import type { VolumeReport } from './agent-report.js';

/**
 * A refused answer says why (`error`, for /status) and which check it failed
 * (`check`, stable from poll to poll while the figures in `error` move, so
 * that a source logs a lasting defect once).
 */
export type AgentAnswer = { ok: true; volumes: VolumeReport[] } | { ok: false; error: string; check: AnswerCheck };

export type AnswerCheck = 'json' | 'shape' | 'figures' | 'duplicate' | 'time';

export interface AnswerClock {
  /** `Date.now()` when the request went out and when the answer was in: an honest `time` lies between. */
  readonly sentAt: number;
  readonly receivedAt: number;
  /** How far `time` may lie outside that window. */
  readonly maxClockSkew: number;
}

const FIGURES = ['totalBytes', 'freeBytes', 'availableBytes', 'totalInodes', 'freeInodes'] as const;

const refuse = (check: AnswerCheck, error: string): AgentAnswer => ({ ok: false, error, check });

/**
 * Reads an agent's `/v1/volumes` answer strictly: anything but the agent
 * API's shape, with non-negative integer figures that are consistent (as
 * statfs's are), each mount once, and a `time` within `maxClockSkew` of the
 * gateway's clock, is refused with a reason — the whole answer, never half-used.
 * An answer without `time` is accepted: the gateway dates snapshots by its
 * own clock, so `time` only serves to catch a stale or replayed answer.
 */
export function parseAgentAnswer(text: string, clock: AnswerClock): AgentAnswer {
  if (text.trim() === '') return refuse('json', 'empty answer');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return refuse('json', `not JSON: ${JSON.stringify(text.slice(0, 40))}`);
  }
  if (typeof data !== 'object' || data === null || !Array.isArray((data as { volumes?: unknown }).volumes)) {
    return refuse('shape', 'expected an object with a "volumes" list');
  }
  const timeError = checkTime((data as { time?: unknown }).time, clock);
  if (timeError) return refuse('time', timeError);

  const volumes: VolumeReport[] = [];
  const seen = new Map<string, number>();
  for (const [i, v] of ((data as { volumes: unknown[] }).volumes).entries()) {
    if (typeof v !== 'object' || v === null) return refuse('shape', `volumes[${i}]: expected an object`);
    const volume = v as Record<string, unknown>;
    if (typeof volume.mount !== 'string' || volume.mount === '') return refuse('shape', `volumes[${i}].mount: expected a non-empty string`);
    const first = seen.get(volume.mount);
    if (first !== undefined) return refuse('duplicate', `volumes[${i}].mount: "${volume.mount}" is already volumes[${first}]`);
    seen.set(volume.mount, i);
    for (const key of FIGURES) {
      const n = volume[key];
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        return refuse('shape', `volumes[${i}].${key}: expected a non-negative integer, got ${JSON.stringify(n)}`);
      }
    }
    const f = volume as unknown as VolumeReport;
    const inconsistency = inconsistent(f);
    if (inconsistency) return refuse('figures', `volumes[${i}]: ${inconsistency}`);
    volumes.push({
      mount: f.mount,
      filesystem: typeof volume.filesystem === 'string' ? volume.filesystem : 'unknown',
      totalBytes: f.totalBytes,
      freeBytes: f.freeBytes,
      availableBytes: f.availableBytes,
      totalInodes: f.totalInodes,
      freeInodes: f.freeInodes,
    });
  }
  return { ok: true, volumes };
}

/** Figures statfs could not give: bavail ≤ bfree ≤ blocks, ffree ≤ files. */
function inconsistent(f: VolumeReport): string | null {
  if (f.availableBytes > f.totalBytes) return `availableBytes ${f.availableBytes} > totalBytes ${f.totalBytes}`;
  if (f.freeBytes > f.totalBytes) return `freeBytes ${f.freeBytes} > totalBytes ${f.totalBytes}`;
  if (f.availableBytes > f.freeBytes) return `availableBytes ${f.availableBytes} > freeBytes ${f.freeBytes} (space available to users is part of the free space)`;
  if (f.freeInodes > f.totalInodes) return `freeInodes ${f.freeInodes} > totalInodes ${f.totalInodes}`;
  return null;
}

function checkTime(time: unknown, { sentAt, receivedAt, maxClockSkew }: AnswerClock): string | null {
  if (time === undefined) return null;
  const at = typeof time === 'string' ? Date.parse(time) : NaN;
  if (Number.isNaN(at)) return `time: expected an ISO 8601 date, got ${JSON.stringify(time)}`;
  const skew = at < sentAt ? sentAt - at : at > receivedAt ? at - receivedAt : 0;
  if (skew <= maxClockSkew) return null;
  return `time ${time} is ${formatSkew(skew)} ${at < sentAt ? 'behind' : 'ahead of'} the gateway's clock (maxClockSkew ${formatSkew(maxClockSkew)}): set the agent host's clock (NTP), or raise maxClockSkew`;
}

function formatSkew(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${+(ms / 1000).toFixed(1)} s`;
}
