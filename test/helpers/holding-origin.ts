import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { once } from 'node:events';
import path from 'node:path';
import type { Test } from 'tap';
import type { VolumeState } from '../../src/headroom/volume-state.js';
import type { RunningGateway } from './gateway.js';
import { until } from './http.js';

export interface HoldingOrigin {
  readonly url: string;
  /** Body bytes it received. */
  readonly received: () => number;
  /** Uploads whose whole body it holds, waiting for `answerAll`. */
  readonly waiting: () => number;
  /** Stores (where it stores) and answers every upload it holds. */
  answerAll(): void;
}

/**
 * An origin whose bytes are on a disk only when it says so: each PUT is
 * read into memory, then stored under `dir` (none: dropped) and answered —
 * at once, or, for a name `holds` picks, only on `answerAll`. What it holds
 * is on no disk, as bytes in socket buffers or an origin's memory are while
 * an upload is in flight. Closed when the test ends.
 */
export async function holdingOrigin(t: Test, { dir = null, holds = () => true }: { dir?: string | null; holds?: (name: string) => boolean } = {}): Promise<HoldingOrigin> {
  let received = 0;
  const waiting: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (dir !== null) chunks.push(chunk);
    });
    const name = path.basename(req.url!);
    const answer = (status: number): void => void res.writeHead(status, { 'content-length': '0' }).end();
    const store = (): void => {
      if (dir === null) return answer(201);
      writeFile(path.join(dir, name), Buffer.concat(chunks)).then(() => answer(201), () => answer(507));
    };
    req.on('end', () => (holds(name) ? waiting.push(store) : store()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    received: () => received,
    waiting: () => waiting.length,
    answerAll: () => waiting.splice(0).forEach((store) => store()),
  };
}

/** A PUT through the gateway whose body the test sends piece by piece; `headers` say how it is framed. */
export function upload(gateway: RunningGateway, name: string, headers: Record<string, string>): { req: http.ClientRequest; status: Promise<number> } {
  const req = http.request(`${gateway.url}/${name}`, { method: 'PUT', agent: false, headers });
  const status = once(req, 'response').then(([res]) => {
    (res as http.IncomingMessage).resume();
    return (res as http.IncomingMessage).statusCode!;
  });
  return { req, status };
}

/** A whole PUT of `size` bytes; resolves with its status. */
export function put(gateway: RunningGateway, name: string, size: number): Promise<number> {
  const { req, status } = upload(gateway, name, { 'content-length': String(size) });
  req.end(Buffer.alloc(size, 3));
  return status;
}

/** The gateway's only volume. */
export const volumeOf = (gateway: RunningGateway): VolumeState => [...gateway.registry.all()][0]!;

/** Waits for a snapshot of the gateway's only volume whose measurement started at least `ms` after now. */
export async function snapshotAfter(gateway: RunningGateway, ms = 0): Promise<void> {
  const after = Date.now() + ms;
  await until(() => (volumeOf(gateway).snapshot?.takenAt ?? 0) > after, 'a snapshot taken after now', 10_000);
}
