/** How a reload went: the new generation, or why the running one stays. */
export type ReloadResult =
  | { readonly ok: true; readonly generation: number; readonly changed: readonly string[] }
  | { readonly ok: false; readonly generation: number; readonly problems: readonly string[] };
