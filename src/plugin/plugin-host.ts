import { isDeepStrictEqual } from 'node:util';
import type { Constraint } from '../exchange/constraint.js';
import type { Logger } from '../log/log.js';
import type { AdminRoute, Plugin, PluginContext, PluginInstance } from './plugin.js';
import type { ResolvedPlugin } from './resolve-plugins.js';

interface Running {
  readonly plugin: Plugin;
  options: unknown;
  readonly instance: PluginInstance<unknown>;
}

/** What the gateway gives every plugin's context; the host adds the plugin's own logger and directory. */
export type ContextFor = (plugin: Plugin, configDir: string, logger: Logger) => PluginContext;

/**
 * The plugins of the running configuration, kept across reloads: a plugin
 * still listed keeps its instance and is told its options again (`reload`),
 * or — one without `reload` whose options changed — is replaced; one no
 * longer listed is closed; a new one is started.
 */
export class PluginHost {
  #running: Running[] = [];
  readonly #contextFor: ContextFor;
  readonly #logger: Logger;

  constructor(contextFor: ContextFor, logger: Logger) {
    this.#contextFor = contextFor;
    this.#logger = logger;
  }

  /**
   * Makes the running plugins those of `next`. New instances are started
   * before anything is closed; when one fails to start or to reload, those
   * started for `next` are closed again and the error is thrown (the
   * running configuration stays, though plugins already told their new
   * options keep them).
   */
  async apply(next: readonly ResolvedPlugin[]): Promise<void> {
    const started: Running[] = [];
    const kept = new Set<Running>();
    const result: Running[] = [];
    try {
      for (const { plugin, options, configDir } of next) {
        // The same code (a module is loaded once per process) keeps its instance when it can take the options.
        const old = this.#running.find((r) => r.plugin === plugin);
        if (old && (old.instance.reload || isDeepStrictEqual(old.options, options))) {
          await old.instance.reload?.(options);
          old.options = options;
          kept.add(old);
          result.push(old);
          continue;
        }
        const logger = this.#logger.child({ plugin: plugin.name });
        const instance = (await plugin.start(this.#contextFor(plugin, configDir, logger), options as never)) as PluginInstance<unknown>;
        const running = { plugin, options, instance };
        started.push(running);
        result.push(running);
      }
    } catch (err) {
      await Promise.all(started.map((r) => this.#close(r)));
      throw err;
    }
    const gone = this.#running.filter((r) => !kept.has(r));
    this.#running = result;
    await Promise.all(gone.map((r) => this.#close(r)));
  }

  /** Every running plugin's constraints, in the order the plugins are listed. */
  constraints(): Constraint[] {
    return this.#running.flatMap((r) => r.instance.constraints ?? []);
  }

  /** The admin route `method path` asks for, if a plugin has it: `/plugins/<name><route path>`. */
  adminRoute(method: string, path: string): AdminRoute | null {
    const match = /^\/plugins\/([^/]+)(\/.*)?$/.exec(path);
    if (!match) return null;
    const running = this.#running.find((r) => r.plugin.name === match[1]);
    const rest = match[2] ?? '/';
    const wanted = method === 'HEAD' ? 'GET' : method;
    return running?.instance.adminRoutes?.find((route) => (route.method ?? 'GET') === wanted && normal(route.path) === rest) ?? null;
  }

  async close(): Promise<void> {
    const running = this.#running;
    this.#running = [];
    await Promise.all(running.map((r) => this.#close(r)));
  }

  async #close(running: Running): Promise<void> {
    try {
      await running.instance.close?.();
    } catch (err) {
      this.#logger.warn({ msg: 'a plugin failed to close', plugin: running.plugin.name, err });
    }
  }
}

const normal = (path: string): string => (path === '' ? '/' : path.startsWith('/') ? path : `/${path}`);
