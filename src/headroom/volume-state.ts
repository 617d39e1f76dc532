import type { VolumeSnapshot } from './snapshot.js';

export interface FloodMarks {
  readonly floodStage: number;
  readonly floodRelease: number;
}

/**
 * One volume as the gateway knows it: the latest snapshot and what happened
 * since — bytes streamed to it, flood stage (with hysteresis), and an
 * origin's own 507. Reservations are the ledger's.
 */
export class VolumeState {
  readonly key: string;
  readonly origin: string;
  readonly volume: string;
  #snapshot: VolumeSnapshot | null = null;
  #flooded = false;
  /** `Date.now()` of the origin's last 507, until a snapshot taken after it. */
  #markedFullAt: number | null = null;
  /** Bytes streamed to the volume since the gateway started (monotonic). */
  #written = 0;
  /** Value of #written when the current snapshot's measurement started. */
  #writtenAtSnapshot = 0;
  #lastError: string | null = null;
  readonly #marks: FloodMarks;

  constructor(origin: string, volume: string, marks: FloodMarks) {
    this.origin = origin;
    this.volume = volume;
    this.key = volumeKey(origin, volume);
    this.#marks = marks;
  }

  get snapshot(): VolumeSnapshot | null {
    return this.#snapshot;
  }

  get flooded(): boolean {
    return this.#flooded;
  }

  get markedFull(): boolean {
    return this.#markedFullAt !== null;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  /** Streamed bytes a snapshot does not show yet. */
  get writtenSinceSnapshot(): number {
    return this.#written - this.#writtenAtSnapshot;
  }

  /** Call when a measurement starts; pass the result to `record`. */
  writtenMark(): number {
    return this.#written;
  }

  addWritten(bytes: number): void {
    this.#written += bytes;
  }

  /**
   * A fresh measurement. It shows what was written before it started, and
   * lifts an origin's 507 mark if taken after it; flood stage follows its usage with
   * hysteresis: set at floodStage, cleared only below floodRelease.
   */
  record(snapshot: VolumeSnapshot, writtenMark: number): void {
    if (this.#snapshot && snapshot.takenAt < this.#snapshot.takenAt) return;
    this.#snapshot = snapshot;
    this.#writtenAtSnapshot = Math.max(this.#writtenAtSnapshot, writtenMark);
    if (this.#markedFullAt !== null && snapshot.takenAt > this.#markedFullAt) this.#markedFullAt = null;
    this.#lastError = null;
    const usage = snapshot.totalBytes > 0 ? (snapshot.totalBytes - snapshot.availableBytes) / snapshot.totalBytes : 1;
    if (usage >= this.#marks.floodStage) this.#flooded = true;
    else if (usage < this.#marks.floodRelease) this.#flooded = false;
  }

  /** A measurement failed; the last snapshot stays and ages. */
  recordError(message: string): void {
    this.#lastError = message;
  }

  /** The origin answered 507: full until the next fresh snapshot. */
  markFull(now = Date.now()): void {
    this.#markedFullAt = now;
  }
}

export function volumeKey(origin: string, volume: string): string {
  return `${origin}\u0000${volume}`;
}
