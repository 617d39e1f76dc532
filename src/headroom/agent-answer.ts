import type { VolumeReport } from '../agent/volumes.js';

export type AgentAnswer = { ok: true; volumes: VolumeReport[] } | { ok: false; error: string };

const FIGURES = ['totalBytes', 'freeBytes', 'availableBytes', 'totalInodes', 'freeInodes'] as const;

/**
 * Reads an agent's `/v1/volumes` answer strictly: anything but the SPEC §3
 * shape, with non-negative integer figures that add up, is refused with a
 * reason, never half-used.
 */
export function parseAgentAnswer(text: string): AgentAnswer {
  if (text.trim() === '') return { ok: false, error: 'empty answer' };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, error: `not JSON: ${JSON.stringify(text.slice(0, 40))}` };
  }
  if (typeof data !== 'object' || data === null || !Array.isArray((data as { volumes?: unknown }).volumes)) {
    return { ok: false, error: 'expected an object with a "volumes" list' };
  }
  const volumes: VolumeReport[] = [];
  for (const [i, v] of ((data as { volumes: unknown[] }).volumes).entries()) {
    if (typeof v !== 'object' || v === null) return { ok: false, error: `volumes[${i}]: expected an object` };
    const volume = v as Record<string, unknown>;
    if (typeof volume.mount !== 'string' || volume.mount === '') return { ok: false, error: `volumes[${i}].mount: expected a non-empty string` };
    for (const key of FIGURES) {
      const n = volume[key];
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        return { ok: false, error: `volumes[${i}].${key}: expected a non-negative integer, got ${JSON.stringify(n)}` };
      }
    }
    const f = volume as unknown as VolumeReport;
    if (f.availableBytes > f.totalBytes) return { ok: false, error: `volumes[${i}]: availableBytes ${f.availableBytes} > totalBytes ${f.totalBytes}` };
    if (f.freeBytes > f.totalBytes) return { ok: false, error: `volumes[${i}]: freeBytes ${f.freeBytes} > totalBytes ${f.totalBytes}` };
    if (f.freeInodes > f.totalInodes) return { ok: false, error: `volumes[${i}]: freeInodes ${f.freeInodes} > totalInodes ${f.totalInodes}` };
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
