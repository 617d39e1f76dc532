/**
 * An origin's health with HAProxy's hysteresis: down after `fall`
 * consecutive failures, up again after `rise` consecutive successes.
 * Unknown (null) until the first check, and treated as up.
 */
export class OriginHealth {
  #healthy: boolean | null = null;
  #successes = 0;
  #failures = 0;
  lastError: string | null = null;
  /** Failed checks since the gateway started, for the poll-failures metric. */
  failedChecks = 0;
  /** Told after every check, when set: a group's primary passes the state on to its workers. */
  onChange: (() => void) | null = null;

  constructor(
    readonly rise: number,
    readonly fall: number,
  ) {}

  get healthy(): boolean | null {
    return this.#healthy;
  }

  /** True unless checks have marked the origin down. */
  get usable(): boolean {
    return this.#healthy !== false;
  }

  success(): void {
    this.#failures = 0;
    this.#successes++;
    if (this.#healthy === null || (this.#healthy === false && this.#successes >= this.rise)) this.#healthy = true;
    this.onChange?.();
  }

  failure(error: string): void {
    this.failedChecks++;
    this.lastError = error;
    this.#successes = 0;
    this.#failures++;
    if (this.#failures >= this.fall) this.#healthy = false;
    this.onChange?.();
  }

  /** The state another process's checks arrived at (a group's worker takes its primary's). */
  adopt(healthy: boolean | null, lastError: string | null): void {
    this.#healthy = healthy;
    this.lastError = lastError;
    this.#successes = 0;
    this.#failures = 0;
  }
}
