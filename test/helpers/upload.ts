import { once } from 'node:events';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';

/** How an upload ended: its status, the gateway's error code when it answered with a problem, and its size. */
export interface Outcome {
  readonly status: number;
  readonly problem: string | null;
  readonly bytes: number;
}

/** The `error` of a gateway's own answer (application/problem+json), or null for anyone else's. */
export function problemOf(res: IncomingMessage, body: Buffer): string | null {
  return res.headers['content-type'] === 'application/problem+json' ? (JSON.parse(body.toString()) as { error: string }).error : null;
}

/** Writes `bytes` in 64 KiB pieces, waiting for drain when the socket is full, then ends the request. */
export function writeBody(req: ClientRequest, bytes: number): void {
  const chunk = Buffer.alloc(64 * 1024, 7);
  let sent = 0;
  const more = (): void => {
    while (sent < bytes) {
      const n = Math.min(chunk.length, bytes - sent);
      sent += n;
      if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', more);
    }
    req.end();
  };
  more();
}

/**
 * A chunked PUT of `total` bytes in `piece`-byte chunks, as fast as the
 * peer takes them: the status and body, or the error code of a reset.
 */
export function chunkedPut(url: string, total: number, piece = 64 * 1024): Promise<{ status: number | string; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'PUT', agent: false, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: err.code ?? 'error', body: '' }));
    void (async () => {
      for (let sent = 0; sent < total && !req.destroyed; sent += piece) {
        if (!req.write(Buffer.alloc(piece, 9))) await once(req, 'drain');
      }
      req.end();
    })().catch(() => undefined);
  });
}
