/**
 * The plugins shipped in the package's `plugins/` folder, by the name
 * `plugins[].name` gives them. Loaded only when a configuration names them:
 * the core never imports them otherwise (they are built on its public API).
 */
export const FIRST_PARTY: ReadonlyMap<string, URL> = new Map([
  ['tenant-quota', new URL('../../plugins/tenant-quota/index.js', import.meta.url)],
  ['decide', new URL('../../plugins/decide/index.js', import.meta.url)],
]);
