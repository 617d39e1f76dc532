import type { Meter, Tracer } from '@opentelemetry/api';
import type { Schema } from 'convict';
import type { ConfigOf } from '../config/shape.js';
import type { GatewayConfig } from '../config/types.js';
import type { Constraint } from '../exchange/constraint.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../log/log.js';
import type { RoomGuard, RoomGuardOptions } from '../admission/room-guard.js';
import type { GatewayStatus } from '../admin/status.js';
import type { AdminRoute } from '../admin/admin-server.js';

export type { AdminRoute };
import type { DescribedRequest, Verdict } from '../admission/verdict.js';

/**
 * A plugin (docs/plugins.md): a name, the schema of its options, and how
 * it starts. Loaded from the configuration's `plugins:` by name (first
 * party) or by `module` (a file or package exporting it as default).
 */
export interface Plugin<S extends Schema<unknown> = Schema<unknown>> {
  /** As `plugins[].name` names it; also its logger's and admin routes' name. */
  readonly name: string;
  /**
   * Its options in convict's schema form (`format`, `default`, `nullable`,
   * nested objects), validated strictly as the rest of the configuration:
   * a problem is reported as `plugins[0].options.<key>: …`.
   */
  readonly options?: S;
  /**
   * Where it runs in a group of processes (`workers`): `workers` (the
   * default) — every worker runs it, as its constraints judge the requests
   * the workers take; `primary` — one instance for the group, in the
   * primary, for a plugin that takes connections of its own and keeps
   * state across them (the decision endpoint's leases). Without workers,
   * the one process runs every plugin.
   */
  readonly group?: 'workers' | 'primary';
  /** Option keys that must be given (a default would hide the omission). */
  readonly requiredOptions?: readonly string[];
  /**
   * Checks across options that a schema cannot say (a file that must
   * parse, one key that excludes another): one line per problem, each
   * starting with the option's key (`file: …`), as the loader prefixes
   * `plugins[N].options.`. Runs at start, at check-config and before a
   * reload is swapped in: a refused reload leaves the running plugin alone.
   */
  check?(options: ConfigOf<S>, context: CheckContext): readonly string[] | Promise<readonly string[]>;
  /** Starts an instance with validated options; what it returns lives until it is closed. */
  start(context: PluginContext, options: ConfigOf<S>): PluginInstance<ConfigOf<S>> | Promise<PluginInstance<ConfigOf<S>>>;
}

/** What a `check` may use: where relative paths in options are resolved from. */
export interface CheckContext {
  /** The configuration file's directory (the working directory when there is no file). */
  readonly configDir: string;
}

/** A started plugin. */
export interface PluginInstance<Options = unknown> {
  /**
   * Admission constraints, judged after the storage guard in the order the
   * plugins are listed. Read again each time a configuration is swapped in.
   */
  readonly constraints?: readonly Constraint[];
  /** Routes on the admin listener, under `/plugins/<name>/`, behind `admin.token` like `/status`. */
  readonly adminRoutes?: readonly AdminRoute[];
  /**
   * New options from a reload (SIGHUP, POST /reload), already validated
   * and checked. Without it the instance is closed and a new one started.
   * A promise that rejects refuses the reload.
   */
  reload?(options: Options): void | Promise<void>;
  /** Gives back what it holds (listeners, timers); called once, at shutdown or when replaced. */
  close?(): void | Promise<void>;
}

/** What a plugin may use of the gateway it runs in. */
export interface PluginContext extends CheckContext {
  readonly logger: Logger;
  /** The running configuration (a reload replaces it). */
  config(): GatewayConfig;
  /** What the gateway knows of its origins and volumes, as `/status` shows it. */
  status(): GatewayStatus;
  /** Whether a peer's address is one of `trustedProxies` (whose forwarding headers, or an auth proxy's, are believed). */
  trusts(address: string | undefined): boolean;
  /** The reservations of admitted writes (read its figures; reserve only through a room guard). */
  readonly ledger: Ledger;
  /**
   * Judges a request described by another proxy as this gateway would
   * judge it arriving itself: routed, then every constraint in order.
   */
  check(request: DescribedRequest): Promise<Verdict>;
  /**
   * A constraint that judges writes against rooms of the plugin's own —
   * a tenant's quota — exactly as the storage guard judges a volume:
   * checked and reserved in one step in the ledger (shared by replicas
   * when it is), chunked bodies metered, written bytes counted until the
   * next figures.
   */
  roomGuard(options: RoomGuardOptions): RoomGuard;
  readonly tracer: Tracer | null;
  readonly meter: Meter | null;
}

/** Types a plugin's options by its schema; returns it unchanged. */
export function definePlugin<const S extends Schema<unknown>>(plugin: Plugin<S>): Plugin<S> {
  return plugin;
}
