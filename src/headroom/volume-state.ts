import { Landings, type Landing } from './landings.js';
import { overheadSince, type WriteCount } from './write-overhead.js';
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
  /** Exact accounting: bytes of exchanges ended when it started (all on the disk: the origin answered). */
  readonly ended: number;
  /** Exact accounting: bytes uploads still streaming had sent when it started (on the disk or not). */
  readonly inFlight: number;
}

/** What a volume learnt, for a process that passes it on (a group's primary to its workers, a worker to the primary). */
export type VolumeChange =
  | { readonly kind: 'snapshot'; readonly snapshot: VolumeSnapshot }
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'full'; readonly at: number };

/** This process's write counters at one moment (see `VolumeState.markAt`). */
interface Sample {
  readonly at: number;
  readonly settled: number;
  readonly streamed: number;
  readonly created: number;
}

/** How far apart the samples of a fed volume's counters are at most while it is written to. */
const SAMPLE_MS = 10;
/** Samples kept when no snapshot comes to trim them. */
const MAX_SAMPLES = 4096;

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
  /**
   * Exact accounting (see `record`): of #streamed, what uploads that have
   * ended sent; the rest is in flight.
   */
  #streamedEnded = 0;
  /** Exact accounting: of what was in flight when the current snapshot started, what it is taken to show. */
  #shownInFlight = 0;
  /** Writes that ended on the volume (see WriteCount), and what had when the current snapshot was recorded. */
  #writes: { ended: number; uncertain: number } = { ended: 0, uncertain: 0 };
  #writesAtSnapshot: WriteCount = { ended: 0, uncertain: 0 };
  /** Exact accounting: the current snapshot's bytes in use and how it measures them, and what had ended when it started. */
  #measured: { readonly used: number; readonly total: number; readonly source: string; readonly ended: number } | null = null;
  /**
   * Every write to the volume is admitted and counted by this process
   * (its own ledger, its own measurements): what a snapshot shows of the
   * uploads in flight is then read from the volume's growth, exactly.
   * Otherwise (workers, replicas sharing a ledger) their bytes are taken
   * by time (see `writtenMark`).
   */
  readonly exact: boolean;
  /** Inodes taken by exchanges that have ended (monotonic), and what the current snapshot shows of them. */
  #created = 0;
  #createdAtSnapshot = 0;
  /** Times its figures could not be had since the gateway started (measurement failed, or the agent left it out). */
  errors = 0;
  #lastError: string | null = null;
  readonly #marks: FloodMarks;
  /** Counters over recent moments, for a volume another process measures (`markAt`); null otherwise. */
  readonly #history: Sample[] | null;
  readonly #notify: ((state: VolumeState, change: VolumeChange) => void) | null;
  /** Writes waiting for a snapshot to show them (see expectLanding); null until the first. */
  #landings: Landings | null = null;
  /** What admitted writes hold on the volume now, from the ledger that holds them. */
  #reservedBytes: () => number = () => 0;

  constructor(
    origin: string,
    volume: string,
    marks: FloodMarks,
    { fed = false, exact = false, notify = null }: { fed?: boolean; exact?: boolean; notify?: ((state: VolumeState, change: VolumeChange) => void) | null } = {},
  ) {
    this.exact = exact && !fed;
    this.origin = origin;
    this.volume = volume;
    this.key = volumeKey(origin, volume);
    this.#marks = marks;
    this.#history = fed ? [] : null;
    this.#notify = notify;
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

  /** `Date.now()` of the origin's 507 that marked it full, while it does. */
  get markedFullAt(): number | null {
    return this.#markedFullAt;
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
    const ended = this.#settled + this.#streamedEnded;
    return { bytes: this.#settled + this.#streamedTrusted, inodes: this.#created, ended, inFlight: this.#streamed - this.#streamedEnded };
  }

  /**
   * `writtenMark` for a measurement another process started at `takenAt`
   * (`Date.now()` on this host) and that reaches this one later: what this
   * process had settled by then, and streamed by IN_FLIGHT_MS before — as
   * `writtenMark` would have taken it at that moment. Counters as of when
   * the snapshot arrives would take bytes settled or streamed since its
   * start as shown by it, and so undercount. The counters are sampled
   * after each change (kept about SAMPLE_MS apart, the newest always
   * current) and the latest sample taken before the moment is used: a
   * figure of that moment or lower, since they only grow, so bytes may be
   * counted twice (those of the SAMPLE_MS before it), never missed.
   */
  markAt(takenAt: number): WrittenMark {
    const shown = this.#sampleAt(takenAt);
    const trusted = this.#sampleAt(takenAt - IN_FLIGHT_MS);
    const history = this.#history!;
    // Later snapshots start later: older samples than the one that served are not needed again.
    while (history.length > 1 && history[1]!.at < takenAt - IN_FLIGHT_MS) history.shift();
    return { bytes: shown.settled + trusted.streamed, inodes: shown.created, ended: 0, inFlight: 0 };
  }

  /**
   * The latest sample taken before `at` (strictly: a measurement started
   * in the same millisecond may have missed that change); zeros when there
   * is none (the counters start at 0).
   */
  #sampleAt(at: number): Omit<Sample, 'at'> {
    const history = this.#history!;
    for (let i = history.length - 1; i >= 0; i--) if (history[i]!.at < at) return history[i]!;
    return { settled: 0, streamed: 0, created: 0 };
  }

  /**
   * After a counter changed: a sample of them all. Within SAMPLE_MS of the
   * one before the last, it replaces the last (which was taken later than
   * that, so what it told of its own moment is now told of a later one).
   */
  #sample(): void {
    const history = this.#history!;
    const now = Date.now();
    const sample = { at: now, settled: this.#settled, streamed: this.#streamed, created: this.#created };
    const n = history.length;
    if (n >= 2 && now - history[n - 2]!.at < SAMPLE_MS) history[n - 1] = sample;
    else history.push(sample);
    if (history.length > MAX_SAMPLES) history.shift();
  }

  /**
   * An exchange ended having sent these bytes (not metered while
   * streaming); `uncertain`: a guess at what it wrote (a COPY whose source
   * could not be sized).
   */
  addWritten(bytes: number, uncertain = false): void {
    this.#settled += bytes;
    this.#writes.ended++;
    if (uncertain) this.#writes.uncertain++;
    if (this.#history) this.#sample();
  }

  /** Bytes an upload is sending now, metered as they stream. */
  addStreamed(bytes: number): void {
    this.#streamed += bytes;
    if (this.#history) this.#sample();
  }

  /** An upload metered while it streamed (`addStreamed`) ended, having sent `bytes`: no longer in flight. */
  endStreamed(bytes: number): void {
    this.#streamedEnded += bytes;
    this.#writes.ended++;
  }

  /** An exchange ended having made new files or collections. */
  addCreated(inodes: number): void {
    this.#created += inodes;
    if (this.#history) this.#sample();
  }

  /**
   * A fresh measurement. It shows what was written before it started, and
   * lifts an origin's 507 mark if taken after it; flood stage follows its usage with
   * hysteresis: set at floodStage, cleared only below floodRelease.
   */
  record(snapshot: VolumeSnapshot, mark: WrittenMark): void {
    if (this.#snapshot && snapshot.takenAt < this.#snapshot.takenAt) return;
    this.#snapshot = snapshot;
    const writes: WriteCount = { ...this.#writes };
    if (this.exact) this.#writtenAtSnapshot = this.#exactlyShown(snapshot, mark, writes);
    else this.#writtenAtSnapshot = Math.max(this.#writtenAtSnapshot, mark.bytes);
    this.#writesAtSnapshot = writes;
    this.#createdAtSnapshot = Math.max(this.#createdAtSnapshot, mark.inodes);
    if (this.#markedFullAt !== null && snapshot.takenAt > this.#markedFullAt) this.#markedFullAt = null;
    this.#lastError = null;
    if (this.#landings !== null && this.#landings.size > 0) {
      // The writes it shows landed are counted when their leases end, just after: as shown by this snapshot, not since.
      const landed = this.#landings.record({ usedBytes: usedBytesOf(snapshot), totalBytes: snapshot.totalBytes, countedBytes: this.#settled + this.#streamed, reservedBytes: this.#reservedBytes(), writes });
      this.#writtenAtSnapshot += landed.bytes;
      this.#writesAtSnapshot = { ended: writes.ended + landed.writes, uncertain: writes.uncertain };
      if (this.#measured !== null) this.#measured = { ...this.#measured, ended: this.#measured.ended + landed.bytes };
    }
    const usage = snapshot.totalBytes > 0 ? (snapshot.totalBytes - snapshot.availableBytes) / snapshot.totalBytes : 1;
    if (usage >= this.#marks.floodStage) this.#flooded = true;
    else if (usage < this.#marks.floodRelease) this.#flooded = false;
    this.#notify?.(this, { kind: 'snapshot', snapshot });
  }

  /**
   * A write of `bytes` whose body another proxy moves, admitted on the
   * current snapshot: its landing settles when a later snapshot shows the
   * bytes on the volume (see Landings). Null before any snapshot. Only for
   * a volume every write to which this process admits and counts:
   * `reservedBytes` is what the ledger holds on it.
   */
  expectLanding(bytes: number, reservedBytes: () => number): Landing | null {
    const snapshot = this.#snapshot;
    if (snapshot === null) return null;
    this.#reservedBytes = reservedBytes;
    return (this.#landings ??= new Landings()).expect(bytes, { usedBytes: usedBytesOf(snapshot), totalBytes: snapshot.totalBytes, shownBytes: this.#writtenAtSnapshot, writes: this.#writesAtSnapshot });
  }

  /**
   * Exact accounting: what a snapshot shows of the gateway's own writes.
   * Everything that had ended when it started (the origin stored it before
   * answering), and of the bytes in flight then, what the volume's growth
   * since the snapshot before says landed: the use grew by what landed of
   * the uploads in flight, plus what ended in between beyond what that
   * snapshot showed of it. So an upload's bytes already on the disk no
   * longer count twice, and bytes held in socket buffers or an origin's
   * memory are not taken as landed, however long they stay there.
   * Bounded by what was in flight: growth from writes around the gateway
   * cannot make more of it landed than was sent, and a deletion can only
   * make less of it so (on the safe side) until the uploads end.
   */
  #exactlyShown(snapshot: VolumeSnapshot, mark: WrittenMark, writes: WriteCount): number {
    const used = usedBytesOf(snapshot);
    const before = this.#measured;
    // A volume measured another way (a new source, another size) has not grown: its figures start again.
    const comparable = before !== null && before.total === snapshot.totalBytes && before.source === snapshot.source;
    const landed = comparable ? this.#shownInFlight + (used - before.used) - (mark.ended - before.ended) - overheadSince(writes, this.#writesAtSnapshot) : 0;
    this.#shownInFlight = Math.min(mark.inFlight, Math.max(0, landed));
    this.#measured = { used, total: snapshot.totalBytes, source: snapshot.source, ended: mark.ended };
    return mark.ended + this.#shownInFlight;
  }

  /** A measurement failed; the last snapshot stays and ages. */
  recordError(message: string): void {
    this.errors++;
    this.#lastError = message;
    this.#notify?.(this, { kind: 'error', message });
  }

  /** The origin answered 507: full until the next fresh snapshot (one taken after `now`). */
  markFull(now = Date.now()): void {
    if (this.#markedFullAt !== null && this.#markedFullAt >= now) return;
    if (this.#snapshot && this.#snapshot.takenAt > now) return; // a later snapshot already lifted it
    this.#markedFullAt = now;
    this.#notify?.(this, { kind: 'full', at: now });
  }
}

function usedBytesOf(snapshot: VolumeSnapshot): number {
  return snapshot.totalBytes - snapshot.availableBytes;
}

export function volumeKey(origin: string, volume: string): string {
  return `${origin}\u0000${volume}`;
}
