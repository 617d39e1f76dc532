/** How a source's last attempt went, for /status and the logs. */
export class SourceStatus {
  lastError: string | null = null;
  lastErrorAt: number | null = null;
  lastSuccessAt: number | null = null;

  report(error: string | null, now = Date.now()): void {
    if (error === null) {
      this.lastSuccessAt = now;
    } else {
      this.lastError = error;
      this.lastErrorAt = now;
    }
  }
}
