import type { FloodMarks } from './volume-state.js';
import { VolumeState, volumeKey } from './volume-state.js';

/** Every volume the gateway guards, by origin and volume name. */
export class HeadroomRegistry {
  readonly #volumes = new Map<string, VolumeState>();
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
  *volumesOf(origin: string): IterableIterator<VolumeState> {
    for (const state of this.#volumes.values()) if (state.origin === origin) yield state;
  }

  /** The origin's only volume, when it has exactly one (a route need not name it then). */
  soleVolume(origin: string): VolumeState | null {
    let found: VolumeState | null = null;
    for (const state of this.volumesOf(origin)) {
      if (found) return null;
      found = state;
    }
    return found;
  }
}
