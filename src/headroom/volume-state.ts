import type { VolumeSnapshot } from './snapshot.js';

export interface FloodMarks {
  readonly floodStage: number;
  readonly floodRelease: number;
}

/**
 * How long bytes sent to an origin may take to reach its disk: socket
 * buffers on both ends (megabytes each, on Linux) and any proxy between
 * drain in well under this on a working network.
 */
export const IN_FLIGHT_MS = 1000;

/** What a measurement is taken to show of the gateway's own writes; see `VolumeState.writtenMark`. */
export interface WrittenMark {
  readonly bytes: number;
  readonly inodes: number;
}

/**
 * One volume as the gateway knows it: the latest snapshot and what happened
 * since — bytes and inodes written to it, flood stage (with hysteresis), and
 * an origin's own 507. Reservations are the ledger's.
 */
export class VolumeState {
  readonly key: string;
  readonly origin: string;
  readonly volume: string;
  #snapshot: VolumeSnapshot | null = null;
  #flooded = false;
  /** `Date.now()` of the origin's last 507, until a snapshot taken after it. */
  #markedFullAt: number | null = null;
  /** Bytes of exchanges that have ended, since the gateway started (monotonic). */
  #settled = 0;
  /** Bytes metered by uploads while they stream, since the gateway started (monotonic). */
  #streamed = 0;
  /** #streamed when recent measurements started, oldest first (see `writtenMark`). */
  readonly #streamedAtMarks: Array<{ readonly at: number; readonly streamed: number }> = [];
  /** Of #streamed, what the latest measurement is taken to show. */
  #streamedTrusted = 0;
  /** Of #settled + #streamed, what the current snapshot is taken to show. */
  #writtenAtSnapshot = 0;
  /** Inodes taken by exchanges that have ended (monotonic), and what the current snapshot shows of them. */
  #created = 0;
  #createdAtSnapshot = 0;
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

  /** Written bytes the current snapshot is not taken to show. */
  get writtenSinceSnapshot(): number {
    return this.#settled + this.#streamed - this.#writtenAtSnapshot;
  }

  /** Inodes taken by ended exchanges that the current snapshot does not show. */
  get inodesSinceSnapshot(): number {
    return this.#created - this.#createdAtSnapshot;
  }

  /**
   * Call once when a measurement starts; pass the result to `record`.
   * The measurement shows what ended exchanges wrote before it started
   * (the origin had stored it before answering). Of uploads still
   * streaming it is taken to show only what they had metered when an
   * earlier measurement started, at least IN_FLIGHT_MS before: bytes
   * metered since may still sit in socket buffers, proxies in between or
   * the origin's memory, on no disk yet. Until a later snapshot they count
   * as written, which is on the safe side (they may be counted twice,
   * never missed) as long as what is sent to an origin reaches its disk
   * within that time or one interval, whichever is longer.
   */
  writtenMark(now = Date.now()): WrittenMark {
    const marks = this.#streamedAtMarks;
    let trusted = -1;
    while (marks.length > 0 && marks[0]!.at <= now - IN_FLIGHT_MS) trusted = marks.shift()!.streamed;
    if (trusted >= 0) this.#streamedTrusted = trusted;
    marks.push({ at: now, streamed: this.#streamed });
    return { bytes: this.#settled + this.#streamedTrusted, inodes: this.#created };
  }

  /** An exchange ended having sent these bytes (not metered while streaming). */
  addWritten(bytes: number): void {
    this.#settled += bytes;
  }

  /** Bytes an upload is sending now, metered as they stream. */
  addStreamed(bytes: number): void {
    this.#streamed += bytes;
  }

  /** An exchange ended having made new files or collections. */
  addCreated(inodes: number): void {
    this.#created += inodes;
  }

  /**
   * A fresh measurement. It shows what was written before it started, and
   * lifts an origin's 507 mark if taken after it; flood stage follows its usage with
   * hysteresis: set at floodStage, cleared only below floodRelease.
   */
  record(snapshot: VolumeSnapshot, mark: WrittenMark): void {
    if (this.#snapshot && snapshot.takenAt < this.#snapshot.takenAt) return;
    this.#snapshot = snapshot;
    this.#writtenAtSnapshot = Math.max(this.#writtenAtSnapshot, mark.bytes);
    this.#createdAtSnapshot = Math.max(this.#createdAtSnapshot, mark.inodes);
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
