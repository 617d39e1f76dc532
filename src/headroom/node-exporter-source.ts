import http from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import type { NodeExporterSourceConfig } from '../config/types.js';
import type { Logger } from '../log/log.js';
import { parseExposition, type ExposedSample } from './exposition.js';
import { every, poll } from './poll.js';
import { pollSpans, type PollOutcome } from './poll-span.js';
import type { HeadroomRegistry } from './registry.js';
import { checkFigures, sameKind, type RemoteFigures } from './remote-figures.js';
import type { SourceStatus } from './source-status.js';

const SIZE = 'node_filesystem_size_bytes';
const AVAILABLE = 'node_filesystem_avail_bytes';
const FILES = 'node_filesystem_files';
const FILES_FREE = 'node_filesystem_files_free';
const DEVICE_ERROR = 'node_filesystem_device_error';
const WANTED = new Set([SIZE, AVAILABLE, FILES, FILES_FREE, DEVICE_ERROR]);

/**
 * Scrapes a node_exporter's `/metrics` on its interval (the next scrape is
 * scheduled when one ends) and records a snapshot for each of `volumes`,
 * read as the mountpoint of node_exporter's filesystem collector. Its
 * figures are statfs's at the moment it is scraped, so the snapshot is dated
 * (and its written mark taken) when the request goes out. A volume with no
 * series, several (a bind mount, a mount over a mount) or a device error
 * gets an error and no snapshot: its last one ages into unknown.
 */
export function startNodeExporterSource(
  origin: string,
  volumes: ReadonlySet<string>,
  config: NodeExporterSourceConfig,
  registry: HeadroomRegistry,
  status: SourceStatus,
  logger: Logger,
  tracer: Tracer | null,
): () => void {
  const headers = config.token ? { authorization: `Bearer ${config.token}` } : {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const states = [...volumes].map((volume) => registry.volume(origin, volume));
  let logged: string | null = null;

  const once = async (): Promise<PollOutcome> => {
    const takenAt = Date.now();
    const marks = states.map((state) => state.writtenMark());
    const result = await poll(config.url, { timeout: config.timeout, maxBytes: config.maxAnswerSize, headers, agent });
    let error: string | null = null;
    if (!result.ok) error = `${result.error}${result.error.startsWith('answer larger') ? ': raise maxAnswerSize, or disable node_exporter collectors the gateway does not read' : result.error.startsWith('no answer') ? ': raise timeout, or check the host' : ''}`;
    else if (result.status !== 200) error = `HTTP ${result.status}: check that url names node_exporter's metrics path (e.g. http://host:9100/metrics)`;
    else {
      const exposition = parseExposition(result.body, WANTED);
      if (!exposition.ok) error = `not Prometheus text: ${exposition.error}`;
      else {
        const byMount = groupByMount(exposition.samples);
        states.forEach((state, i) => {
          const read = readMount(state.volume, byMount.get(state.volume) ?? []);
          if (!read.ok) {
            if (!sameKind(state.lastError, read.error)) logger.warn({ msg: 'node_exporter gives no figures for a configured volume', origin, url: config.url, volume: state.volume, error: read.error });
            return state.recordError(read.error);
          }
          state.record({ ...read.figures, takenAt, source: 'nodeExporter' }, marks[i]!);
        });
      }
    }
    // A lasting failure is logged once; its figures (sizes, line numbers) may move from poll to poll.
    if (error !== null && !sameKind(error, logged)) logger.warn({ msg: 'node_exporter scrape failed; nothing from it is used', origin, url: config.url, error });
    logged = error;
    status.report(error);
    return { error, status: result.ok ? result.status : null };
  };

  const traced = pollSpans(tracer, 'headroom.poll nodeExporter', { 'headroom.origin': origin, 'url.full': config.url });
  const stop = every(config.interval, () => traced(once));
  return () => {
    stop();
    agent.destroy();
  };
}

function groupByMount(samples: readonly ExposedSample[]): Map<string, ExposedSample[]> {
  const byMount = new Map<string, ExposedSample[]>();
  for (const s of samples) {
    const mount = s.labels.mountpoint;
    if (mount === undefined) continue;
    const list = byMount.get(mount);
    if (list) list.push(s);
    else byMount.set(mount, [s]);
  }
  return byMount;
}

/** One mountpoint's figures, from exactly one filesystem. */
function readMount(mount: string, samples: readonly ExposedSample[]): { ok: true; figures: RemoteFigures } | { ok: false; error: string } {
  const of = (name: string): ExposedSample[] => samples.filter((s) => s.name === name);
  if (of(DEVICE_ERROR).some((s) => s.value !== 0)) {
    return { ok: false, error: `node_exporter could not read the filesystem at ${mount} (${DEVICE_ERROR} 1): see node_exporter's log on that host (a stuck or vanished mount, or no permission)` };
  }
  const sizes = of(SIZE);
  if (sizes.length === 0) {
    return { ok: false, error: `node_exporter reports no filesystem mounted at ${mount}: name the volume by its mountpoint as node_filesystem_size_bytes shows it, and check that --collector.filesystem.mount-points-exclude and fs-types-exclude leave it in` };
  }
  if (sizes.length > 1) {
    const devices = sizes.map((s) => `${s.labels.device ?? '?'} (${s.labels.fstype ?? '?'})`).join(', ');
    return { ok: false, error: `node_exporter reports ${sizes.length} filesystems at ${mount}: ${devices}; the gateway cannot tell which one writes land on: unmount the one underneath or exclude it from node_exporter's filesystem collector` };
  }
  const one = (name: string, required: boolean): number | null | string => {
    const found = of(name);
    if (found.length === 1) return found[0]!.value;
    if (found.length === 0 && !required) return null;
    return `node_exporter reports ${found.length} ${name} series for ${mount} but one ${SIZE}: its answer is inconsistent`;
  };
  const values = [one(SIZE, true), one(AVAILABLE, true), one(FILES, false), one(FILES_FREE, false)];
  const bad = values.find((v) => typeof v === 'string');
  if (typeof bad === 'string') return { ok: false, error: bad };
  const [totalBytes, availableBytes, totalInodes, freeInodes] = values as Array<number | null>;
  const inodes = totalInodes !== null && freeInodes !== null;
  return checkFigures(
    { totalBytes: totalBytes!, availableBytes: availableBytes!, totalInodes: inodes ? totalInodes : null, freeInodes: inodes ? freeInodes : null },
    { totalBytes: `${SIZE} of ${mount}`, availableBytes: `${AVAILABLE} of ${mount}`, totalInodes: `${FILES} of ${mount}`, freeInodes: `${FILES_FREE} of ${mount}` },
  );
}
