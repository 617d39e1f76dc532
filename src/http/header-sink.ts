/** A request head being built, as the steps that add fields to it see it. */
export interface HeaderSink {
  /** Sets a field (its name in lower case), replacing any of that name. */
  set(name: string, value: string): void;
}
