import http from 'node:http';
import https from 'node:https';

export type PollResult = { ok: true; status: number; body: string } | { ok: false; error: string };

/**
 * One GET (a POST of `form`, when given) with a deadline on the whole
 * exchange and a cap on the body: a slow, endless or oversized answer is
 * an error, not a hang.
 */
export function poll(url: string, options: { timeout: number; maxBytes: number; headers?: http.OutgoingHttpHeaders; agent?: http.Agent; form?: string }): Promise<PollResult> {
  return new Promise((resolve) => {
    const client = url.startsWith('https:') ? https : http;
    let settled = false;
    const settle = (result: PollResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const form = options.form;
    const headers = form === undefined ? options.headers : { ...options.headers, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) };
    const req = client.request(url, { method: form === undefined ? 'GET' : 'POST', headers, agent: options.agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          settle({ ok: false, error: `answer larger than ${options.maxBytes} bytes` });
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => settle({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err: NodeJS.ErrnoException) => settle({ ok: false, error: err.code ?? err.message }));
    });
    const timer = setTimeout(() => {
      settle({ ok: false, error: `no answer within ${options.timeout} ms` });
      req.destroy();
    }, options.timeout);
    req.on('error', (err: NodeJS.ErrnoException) => settle({ ok: false, error: err.code ?? err.message }));
    req.end(form);
  });
}

/** `interval` ± 10%, so that gateways started together do not poll in step. */
function jittered(interval: number): number {
  return Math.round(interval * (0.9 + Math.random() * 0.2));
}

/**
 * Runs `task` now and then again `interval` (jittered) after each run ends,
 * so a slow run never overlaps the next. Returns a stop function.
 */
export function every(interval: number, task: () => Promise<void>): () => void {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const loop = async (): Promise<void> => {
    await task();
    if (stopped) return;
    timer = setTimeout(() => void loop(), jittered(interval));
    timer.unref();
  };
  void loop();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
