import type { FloodMarks } from './volume-state.js';
import { VolumeState, volumeKey } from './volume-state.js';

/** Every volume the gateway guards, by origin and volume name. */
export class HeadroomRegistry {
  readonly #volumes = new Map<string, VolumeState>();
  /** The same states by origin, so that per-origin questions (asked per write) never scan every volume. */
  readonly #byOrigin = new Map<string, VolumeState[]>();
  readonly #marks: FloodMarks;

  constructor(marks: FloodMarks) {
    this.#marks = marks;
  }

  /** The volume's state, created on first use (a source or a route may name it first). */
  volume(origin: string, volume: string): VolumeState {
    const key = volumeKey(origin, volume);
    let state = this.#volumes.get(key);
    if (!state) {
      state = new VolumeState(origin, volume, this.#marks);
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

  /** The volumes known for one origin, in the order they were first seen. */
  volumesOf(origin: string): readonly VolumeState[] {
    return this.#byOrigin.get(origin) ?? [];
  }
}
