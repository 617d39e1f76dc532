/** One volume in the agent's answer (docs/agent.md), as the agent sends it and the gateway reads it. */
export interface VolumeReport {
  readonly mount: string;
  readonly filesystem: string;
  readonly totalBytes: number;
  readonly freeBytes: number;
  readonly availableBytes: number;
  readonly totalInodes: number;
  readonly freeInodes: number;
}
