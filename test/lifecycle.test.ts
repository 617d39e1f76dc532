import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';
import { spawnGatewayFor } from './helpers/process.js';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

t.test('SIGTERM during a slow upload: it completes, new connections are refused, exit 0', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const gateway = await spawnGatewayFor(t, origin.url, { listen: { drainTimeout: '20s' } });

  const total = 2 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 7);
  let sent = 0;
  const upload = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    const req = http.request(`${gateway.url}/slow.bin`, { method: 'PUT', agent: false, headers: { 'content-length': total } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
    });
    req.on('error', reject);
    const tick = setInterval(() => {
      req.write(chunk);
      sent += chunk.length;
      if (sent >= total) {
        clearInterval(tick);
        req.end();
      }
    }, 25);
  });

  await until(() => origin.stats.bodyBytes > 0, 'the upload to reach the origin');
  gateway.child.kill('SIGTERM');
  await until(() => refused(gateway.port), 'new connections to be refused', 3000);
  t.ok(sent < total, 'the upload was still under way when new connections were refused');

  const done = await upload;
  t.equal(done.status, 201, 'the in-flight upload completed with 201');
  t.equal(done.connection, 'close', 'and was told the connection closes');
  t.equal(await gateway.exited, 0, 'the gateway exited 0');
  t.equal((await readFile(path.join(origin.root, 'slow.bin'))).length, total, 'the whole file is stored');
  t.ok(gateway.lines.some((l) => l.msg === 'access' && l.path === '/slow.bin' && l.status === 201), 'its access line was written before exit');
});

t.test('SIGTERM with nothing in flight exits at once', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const gateway = await spawnGatewayFor(t, origin.url);
  const started = performance.now();
  gateway.child.kill('SIGTERM');
  t.equal(await gateway.exited, 0);
  t.ok(performance.now() - started < 2000, 'no waiting for the drain timeout');
});
