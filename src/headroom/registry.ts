import type { FloodMarks, VolumeChange } from './volume-state.js';
import { VolumeState, volumeKey } from './volume-state.js';
import type { GrowthHistory } from './growth.js';

/** Every volume the gateway guards, by origin and volume name. */
export class HeadroomRegistry {
  readonly #volumes = new Map<string, VolumeState>();
  /** The same states by origin, so that per-origin questions (asked per write) never scan every volume. */
  readonly #byOrigin = new Map<string, VolumeState[]>();
  /** One object every volume state reads, so that a reload's new marks reach them all. */
  readonly #marks: { floodStage: number; floodRelease: number };
  /** Its snapshots are measured by another process (see VolumeState.markAt). */
  readonly #fed: boolean;
  /** Told what every volume learns, when set: a group of processes passes it on. */
  onChange: ((state: VolumeState, change: VolumeChange) => void) | null = null;
  /** Recent used bytes of each volume, for its growth rate; null where nobody asks (a group's worker, a plugin's rooms). */
  readonly growth: GrowthHistory | null;
  readonly #notify = (state: VolumeState, change: VolumeChange): void => {
    if (change.kind === 'snapshot') this.growth?.record(state.key, change.snapshot.takenAt, change.snapshot.totalBytes - change.snapshot.availableBytes);
    this.onChange?.(state, change);
  };

  /** Every write to its volumes is admitted and counted by this process (see VolumeState.exact). */
  readonly #exact: boolean;

  constructor(marks: FloodMarks, { fed = false, exact = false, growth = null }: { fed?: boolean; exact?: boolean; growth?: GrowthHistory | null } = {}) {
    this.#marks = { floodStage: marks.floodStage, floodRelease: marks.floodRelease };
    this.#fed = fed;
    this.#exact = exact;
    this.growth = growth;
  }

  /** Flood marks from a reloaded policy; each volume applies them at its next snapshot. */
  setMarks(marks: FloodMarks): void {
    this.#marks.floodStage = marks.floodStage;
    this.#marks.floodRelease = marks.floodRelease;
  }

  /** The volume's state, created on first use (a source or a route may name it first). */
  volume(origin: string, volume: string): VolumeState {
    const key = volumeKey(origin, volume);
    let state = this.#volumes.get(key);
    if (!state) {
      state = new VolumeState(origin, volume, this.#marks, { fed: this.#fed, exact: this.#exact, notify: this.#notify });
      this.#volumes.set(key, state);
      const ofOrigin = this.#byOrigin.get(origin);
      if (ofOrigin) ofOrigin.push(state);
      else this.#byOrigin.set(origin, [state]);
    }
    return state;
  }

  get(origin: string, volume: string): VolumeState | undefined {
    return this.#volumes.get(volumeKey(origin, volume));
  }

  all(): IterableIterator<VolumeState> {
    return this.#volumes.values();
  }

  /**
   * Drops every volume `keep` refuses: after a reload, once no exchange
   * started under an older configuration is left to use them.
   */
  retain(keep: (state: VolumeState) => boolean): void {
    for (const [key, state] of this.#volumes) {
      if (keep(state)) continue;
      this.#volumes.delete(key);
      this.growth?.forget(key);
      const ofOrigin = this.#byOrigin.get(state.origin)!.filter((s) => s !== state);
      if (ofOrigin.length > 0) this.#byOrigin.set(state.origin, ofOrigin);
      else this.#byOrigin.delete(state.origin);
    }
  }

  /** The volumes known for one origin, in the order they were first seen. */
  volumesOf(origin: string): readonly VolumeState[] {
    return this.#byOrigin.get(origin) ?? [];
  }
}
