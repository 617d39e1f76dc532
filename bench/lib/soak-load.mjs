import http from 'node:http';
import { once } from 'node:events';

const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const REQUEST_TIMEOUT_MS = 120_000;
/** On each socket: the exchange it carried last, so a reset on a reused connection can say what came before. */
const LAST = Symbol('last exchange');

/** Resolves once `req` can take more (drain) or is gone (close), leaving no listener behind. */
function writable(req) {
  return new Promise((resolve) => {
    const done = () => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

/** The first of `events` that `emitter` emits, leaving no listener behind. */
function first(emitter, events) {
  return new Promise((resolve) => {
    const handlers = events.map((event) => [event, () => (off(), resolve(event))]);
    const off = () => handlers.forEach(([event, h]) => emitter.off(event, h));
    handlers.forEach(([event, h]) => emitter.on(event, h));
  });
}

/**
 * One request to the gateway. `body`: null (no body), or { size, mode } with
 * mode `length` (Content-Length), `expect` (Content-Length and
 * Expect: 100-continue) or `chunked` (no length); `abortAfter` bytes: the
 * client destroys the request once it has sent that many.
 * Resolves { status } when an answer came (its body read), { aborted } when
 * the client gave up as planned, or { error } (a code) otherwise.
 */
export function exchange({ port, method, path, body = null, abortAfter = null, agent }) {
  return new Promise((resolve) => {
    const headers = {};
    if (body !== null && body.mode !== 'chunked') headers['content-length'] = String(body.size);
    if (body?.mode === 'expect') headers.expect = '100-continue';
    if (body?.mode === 'chunked') headers['transfer-encoding'] = 'chunked';
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent });
    let settled = false;
    let answered = false;
    let sent = 0;
    let previous = null;
    req.on('socket', (socket) => {
      previous = socket[LAST] ?? null;
      socket[LAST] = { method, path, mode: body?.mode ?? null, status: null };
    });
    const settle = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // reused: the request went on a kept-alive connection (a reset on one can be the keep-alive race).
      resolve({ ...outcome, sent, reused: req.reusedSocket, previous });
    };
    const timer = setTimeout(() => {
      settle({ error: 'client_timeout' });
      req.destroy();
    }, REQUEST_TIMEOUT_MS);
    req.on('response', (res) => {
      answered = true;
      if (req.socket) req.socket[LAST] = { method, path, mode: body?.mode ?? null, status: res.statusCode, connection: res.headers.connection ?? null, sent, writableFinished: req.writableFinished };
      res.resume();
      res.on('end', () => {
        settle({ status: res.statusCode });
        // An answer before the whole body went out (a refusal): this connection is done.
        if (body !== null && !req.writableFinished) req.destroy();
      });
      res.on('error', (e) => settle({ error: `response_${e.code ?? e.message}`, status: res.statusCode }));
    });
    req.on('error', (e) => {
      if (!answered) settle({ error: e.code ?? e.message });
    });
    if (body === null) {
      req.end();
      return;
    }
    const pump = async () => {
      if (body.mode === 'expect') {
        req.flushHeaders();
        if ((await first(req, ['continue', 'response', 'close'])) !== 'continue') return;
      }
      while (sent < body.size && !answered && !req.destroyed) {
        if (abortAfter !== null && sent >= abortAfter) {
          req.destroy();
          settle({ aborted: true });
          return;
        }
        const n = Math.min(CHUNK.length, body.size - sent);
        sent += n;
        if (!req.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          await writable(req);
        }
      }
      if (!answered && !req.destroyed) req.end();
    };
    pump().catch((e) => settle({ error: e.code ?? e.message }));
  });
}

/**
 * An origin that breaks some exchanges on purpose: it destroys the
 * connection of a `resetShare` of the requests (a PUT after its first bytes
 * arrived, a GET before answering) and answers the others (201 / 200).
 */
export async function startFlakyOrigin(resetShare) {
  const counts = { requests: 0, resets: 0 };
  const server = http.createServer((req, res) => {
    counts.requests++;
    const reset = Math.random() < resetShare;
    if (reset) counts.resets++;
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (reset) return req.socket.destroy();
      return res.end('ok');
    }
    if (reset) {
      req.once('data', () => req.socket.destroy());
      req.once('end', () => req.socket.destroy());
      return;
    }
    req.resume();
    req.on('end', () => {
      res.statusCode = 201;
      res.end();
    });
  });
  server.keepAliveTimeout = 5000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: server.address().port,
    counts,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))),
  };
}
