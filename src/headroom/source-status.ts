/** How a source's last attempt went, for /status and the logs. */
export class SourceStatus {
  lastError: string | null = null;
  lastErrorAt: number | null = null;
  /** Failed attempts since the gateway started, for the poll-failures metric. */
  failures = 0;
  /** Told of every error, when set: a group's primary passes it on to its workers. */
  onChange: (() => void) | null = null;

  /** The last error stays until the next one: /status shows it with its time. */
  report(error: string | null, now = Date.now()): void {
    if (error === null) return;
    this.failures++;
    this.lastError = error;
    this.lastErrorAt = now;
    this.onChange?.();
  }
}
