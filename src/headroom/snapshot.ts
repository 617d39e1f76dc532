/** Where a volume's figures came from. */
export type SnapshotSource = 'local' | 'agent' | 'nodeExporter' | 'prometheus' | 'plugin';

/**
 * A volume's figures at one moment, whatever produced them. Sources only
 * produce snapshots; the decision never knows where they came from, only
 * how old they are.
 */
export interface VolumeSnapshot {
  readonly totalBytes: number;
  /** What an unprivileged writer can still use (statfs bavail). */
  readonly availableBytes: number;
  /** Null when the source cannot tell (a fixed allocation has no inodes of its own). */
  readonly totalInodes: number | null;
  readonly freeInodes: number | null;
  /** `Date.now()` when the measurement started. */
  readonly takenAt: number;
  readonly source: SnapshotSource;
}
