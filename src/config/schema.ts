import type convict from 'convict';
import './formats.js';
import { oneOf } from './shape.js';

/**
 * The configuration's shape (docs/configuration.md; config/example.yaml). Every leaf of the gateway schema can
 * also be set from `HEADROOM_<PATH>` (e.g. HEADROOM_POLICY_ONUNKNOWN) or
 * `--<path>` (e.g. --policy.onUnknown); see `withEnvAndArgs`.
 *
 * Lists of objects (origins, routes, plugins) are validated element by
 * element against the section schemas below, so that every problem names
 * its element (`origins[1].url`).
 */
type Schema = convict.Schema<unknown>;

const MiB = 1024 * 1024;

export const WRITE_METHODS = ['PUT', 'POST', 'PATCH', 'MKCOL', 'COPY', 'MOVE', 'PROPPATCH', 'LOCK'];

export const gatewaySchema = {
  listen: {
    host: { doc: 'Address the gateway listens on.', format: String, default: '0.0.0.0' },
    port: { doc: 'Port the gateway listens on (0 = any free port).', format: 'port', default: 8080 },
    maxHeaderSize: { doc: 'Largest request head accepted; above it: 431.', format: 'size', default: 16 * 1024 },
    drainTimeout: { doc: 'On SIGTERM, how long in-flight exchanges may finish.', format: 'duration', default: 30_000 },
    lingerTime: { doc: 'After refusing a request whose body is arriving, how long to read and discard it.', format: 'duration', default: 5_000 },
    lingerBytes: { doc: 'After refusing a request whose body is arriving, how much of it to read and discard.', format: 'size', default: 64 * MiB },
    maxHeaders: { doc: 'Most header fields a request may carry; more: 431.', format: 'nat', default: 100 },
    encodedSlashes: { doc: 'An encoded / or \\ (%2F, %5C) inside a path segment: refused (400), or kept and matched as part of the segment.', format: oneOf('reject', 'keep'), default: 'reject' },
    headersTimeout: { doc: 'How long a request head may take to arrive; past it: 408, and the connection is closed.', format: 'positive-duration', default: 20_000 },
    bodyIdleTimeout: { doc: 'How long a request body may go without a byte; past it: 408, and the upload to the origin is aborted.', format: 'positive-duration', default: 60_000 },
    minBodyRate: { doc: 'Least average rate of a request body, in bytes per second, over each bodyIdleTimeout (0 = none); below it: 408, and the upload to the origin is aborted.', format: 'size', default: 512 },
    keepAliveTimeout: { doc: 'How long an idle keep-alive connection is kept between requests.', format: 'positive-duration', default: 75_000 },
    maxConnections: { doc: 'Most client connections held at once (auto = from the open-file limit, 0 = no cap); past it new ones are closed.', format: 'count-or-auto', default: 'auto' },
  },
  admin: {
    host: { doc: 'Address of the admin listener.', format: String, default: '127.0.0.1' },
    port: { doc: 'Port of the admin listener.', format: 'port', default: 9090 },
    token: { doc: 'Bearer token the admin listener requires; empty = none.', format: String, default: '', sensitive: true },
  },
  via: {
    pseudonym: { doc: 'This gateway’s name in Via headers and loop detection.', format: 'token', default: 'headroom-1' },
    enabled: { doc: 'Append Via to requests and responses.', format: Boolean, default: true },
  },
  headers: {
    server: { doc: 'Server header on the answers the gateway makes itself.', format: String, default: 'headroom' },
    xForwarded: { doc: 'Set X-Forwarded-For/-Proto/-Host toward origins.', format: Boolean, default: true },
    forwarded: { doc: 'Set RFC 7239 Forwarded toward origins.', format: Boolean, default: false },
  },
  trustedProxies: { doc: 'Peers (addresses or CIDR ranges) whose X-Forwarded-* and Forwarded are kept and extended; from others they are replaced.', format: 'cidr-list', default: [] },
  origins: { doc: 'Origins the gateway guards.', format: 'json-array', default: [], sensitive: true },
  routes: { doc: 'Routes, first match wins.', format: 'json-array', default: [], sensitive: true },
  policy: {
    writeMethods: { doc: 'Methods that write.', format: 'string-list', default: WRITE_METHODS },
    reserve: { doc: 'Room always kept free, bytes or a share of the volume.', format: 'size-or-share', default: { share: 0.05 } },
    floodStage: { doc: 'At or above this usage every write is refused…', format: 'share', default: 0.97 },
    floodRelease: { doc: '…until usage falls below this.', format: 'share', default: 0.93 },
    minFreeInodes: { doc: 'Writes that create are refused below this many free inodes.', format: 'nat', default: 1000 },
    maxBodySize: { doc: 'Largest body accepted (0 = no fixed cap); above it: 413.', format: 'size', default: 0 },
    unknownLength: { doc: 'First reservation for a body of unknown length.', format: 'size', default: 64 * MiB },
    maxUploadShare: { doc: 'Most of a volume’s usable room a body of unknown length holds at a time.', format: 'share', default: 0.25 },
    staleAfter: { doc: 'A snapshot older than this is unknown.', format: 'positive-duration', default: 10_000 },
    onUnknown: { doc: 'What to do when a volume is unknown.', format: oneOf('admit', 'reject'), default: 'admit' },
    retryAfter: { doc: 'Retry-After on 507 and 503.', format: 'duration', default: 60_000 },
    copyWalk: {
      maxEntries: { doc: 'Most resources a COPY’s (or cross-volume MOVE’s) source collection may hold for its size to be learnt; more: policy.onUnknown.', format: 'nat', default: 10_000 },
      timeout: { doc: 'How long learning a COPY’s source size from the origin may take; longer: policy.onUnknown.', format: 'positive-duration', default: 5_000 },
    },
    contentRange: { doc: 'A PUT with Content-Range (a partial write): reject (400 range_not_supported) or admit, for origins that support partial PUT.', format: oneOf('reject', 'admit'), default: 'reject' },
  },
  ledger: {
    backend: { doc: 'Where reservations are kept.', format: oneOf('memory', 'redis'), default: 'memory' },
    url: { doc: 'Redis URL for the redis backend: redis:// or rediss://, with user, password and database number when needed.', format: 'redis-url', default: '', sensitive: true },
    leaseTime: { doc: 'How long a reservation held in Redis lives unless its gateway renews it; a gateway that stops loses its reservations within this.', format: 'positive-duration', default: 10_000 },
    timeout: { doc: 'The longest a question to Redis may take; past it (or when Redis is unreachable) ledger.onUnavailable applies.', format: 'positive-duration', default: 250 },
    onUnavailable: { doc: 'Writes while Redis does not answer: reject (503 ledger_unavailable) or local (judged by this gateway alone, with a warning).', format: oneOf('reject', 'local'), default: 'reject' },
    sentinel: {
      name: { doc: 'The Redis master’s name as Redis Sentinel knows it; empty: no Sentinel, ledger.url names the server.', format: String, default: '' },
      addresses: { doc: 'Sentinels to ask for the master, as host:port.', format: 'string-list', default: [] as string[] },
    },
  },
  telemetry: {
    serviceName: { doc: 'service.name of spans and metrics.', format: String, default: 'headroom' },
    traces: {
      exporter: { doc: 'Where spans go.', format: oneOf('otlp', 'console', 'none'), default: 'none' },
      endpoint: { doc: 'OTLP/HTTP base URL; spans go to {endpoint}/v1/traces.', format: 'http-url', default: 'http://127.0.0.1:4318' },
      protocol: { doc: 'OTLP/HTTP encoding of spans.', format: oneOf('http/protobuf', 'http/json'), default: 'http/protobuf' },
    },
    metrics: {
      prometheus: { doc: 'Serve Prometheus text on the admin listener’s /metrics.', format: Boolean, default: true },
    },
  },
  plugins: { doc: 'Plugins to load.', format: 'json-array', default: [] },
  workers: { doc: 'Processes serving the clients’ port (auto = one per core); 1 = the gateway is one process.', format: 'workers', default: 1 },
  log: {
    level: { doc: 'Least severe log level written.', format: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), default: 'info' },
    access: { doc: 'One access line per exchange (as nginx’s access_log); false: none, the other lines stay.', format: Boolean, default: true },
  },
} as const satisfies Schema;

export const originSchema = {
  name: { format: 'token', default: '' },
  url: { format: 'http-url', default: '' },
  connectTimeout: { format: 'positive-duration', default: 5_000 },
  timeout: { format: 'positive-duration', default: 60_000 },
  maxSockets: { format: 'nat', default: 0 },
  headroom: {
    agent: { format: 'optional-object', default: null, nullable: true },
    local: { format: 'optional-object', default: null, nullable: true },
    health: { format: 'optional-object', default: null, nullable: true },
    nodeExporter: { format: 'optional-object', default: null, nullable: true },
    prometheus: { format: 'optional-object', default: null, nullable: true },
  },
} as const satisfies Schema;

export const agentSourceSchema = {
  url: { format: 'http-url', default: '' },
  token: { format: String, default: '', sensitive: true },
  interval: { format: 'positive-duration', default: 2_000 },
  timeout: { format: 'positive-duration', default: 1_000 },
  maxClockSkew: { format: 'positive-duration', default: 30_000 },
} as const satisfies Schema;

export const nodeExporterSourceSchema = {
  url: { format: 'http-url', default: '' },
  token: { format: String, default: '', sensitive: true },
  interval: { format: 'positive-duration', default: 2_000 },
  timeout: { format: 'positive-duration', default: 1_000 },
  maxAnswerSize: { format: 'size', default: 4 * MiB },
} as const satisfies Schema;

export const prometheusSourceSchema = {
  url: { format: 'http-url', default: '' },
  token: { format: String, default: '', sensitive: true },
  interval: { format: 'positive-duration', default: 2_000 },
  timeout: { format: 'positive-duration', default: 1_000 },
  maxAnswerSize: { format: 'size', default: 1 * MiB },
  volumes: { format: 'json-array', default: [] },
} as const satisfies Schema;

/** A volume a Prometheus server measures: PromQL for each figure, '' = not measured. */
export const prometheusVolumeSchema = {
  name: { format: String, default: '' },
  total: { format: String, default: '' },
  available: { format: String, default: '' },
  totalInodes: { format: String, default: '' },
  freeInodes: { format: String, default: '' },
} as const satisfies Schema;

export const localSourceSchema = {
  paths: { format: 'string-list', default: [] },
  interval: { format: 'positive-duration', default: 1_000 },
  capacity: { format: 'size', default: 0 },
} as const satisfies Schema;

export const healthSchema = {
  path: { format: String, default: '/healthz' },
  interval: { format: 'positive-duration', default: 5_000 },
  timeout: { format: 'positive-duration', default: 1_000 },
  rise: { format: 'nat', default: 2 },
  fall: { format: 'nat', default: 3 },
  expect: { format: 'status-list', default: ['200-399'] as Array<string | number> },
} as const satisfies Schema;

export const routeSchema = {
  match: {
    pathPrefix: { format: String, default: '/' },
    host: { format: String, default: null, nullable: true },
  },
  origin: { format: String, default: '' },
  volume: { format: String, default: null, nullable: true },
  /** Every volume the route's writes need, the target first: `[{ volume, share }]` (or plain names); read element by element in load.ts. */
  volumes: { format: 'json-array', default: null, nullable: true },
} as const satisfies Schema;

export const pluginSchema = {
  name: { format: String, default: '' },
  module: { format: String, default: '' },
  options: { format: 'optional-object', default: {} },
} as const satisfies Schema;

/** Keys an element must state; a default would hide the omission. */
export const required = {
  origin: ['name', 'url'],
  agent: ['url'],
  nodeExporter: ['url'],
  prometheus: ['url', 'volumes'],
  prometheusVolume: ['name', 'total', 'available'],
  local: ['paths'],
  route: ['origin'],
  plugin: [],
} as const;

interface Leaf {
  format?: unknown;
  default?: unknown;
  env?: string;
  arg?: string;
}

function isLeaf(node: object): node is Leaf {
  return 'default' in node;
}

/** Adds HEADROOM_<PATH> and --<path> to every leaf of a schema. */
export function withEnvAndArgs<S extends object>(schema: S, prefix = 'HEADROOM', path: string[] = []): S {
  const out: Record<string, unknown> = {};
  for (const [key, node] of Object.entries(schema)) {
    const here = [...path, key];
    out[key] = isLeaf(node as object)
      ? { ...node, env: `${prefix}_${here.join('_').toUpperCase()}`, arg: here.join('.') }
      : withEnvAndArgs(node as object, prefix, here);
  }
  return out as S;
}
