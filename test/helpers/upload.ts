import type http from 'node:http';

/** How an upload ended: its status, the gateway's error code when it answered with a problem, and its size. */
export interface Outcome {
  readonly status: number;
  readonly problem: string | null;
  readonly bytes: number;
}

/** The `error` of a gateway's own answer (application/problem+json), or null for anyone else's. */
export function problemOf(res: http.IncomingMessage, body: Buffer): string | null {
  return res.headers['content-type'] === 'application/problem+json' ? (JSON.parse(body.toString()) as { error: string }).error : null;
}

/** Writes `bytes` in 64 KiB pieces, waiting for drain when the socket is full, then ends the request. */
export function writeBody(req: http.ClientRequest, bytes: number): void {
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
