import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gatewayFor } from './helpers/gateway.js';
import { request, serve, until } from './helpers/http.js';

const MiB = 1024 * 1024;

/**
 * Node emits 'close' on a ServerResponse only once it has been given the
 * socket; a response queued behind an earlier one on a pipelined connection
 * never gets it when the connection dies first. A client that pipelined a
 * PUT behind a slow GET (any large download it does not read) and hung up
 * used to leave the PUT's reservation held for the life of the process.
 * Exchanges of one connection now run one at a time, and every exchange
 * still on a connection ends with it.
 */
t.test('a pipelined PUT behind a slow response is not run before it, and nothing stays held when the connection dies', async (t) => {
  const url = await serve(t, (req, res) => {
    if (req.url === '/slow') {
      res.writeHead(200, { 'content-length': '20' });
      res.write('0123456789'); // and never the rest
      return;
    }
    req.resume().on('end', () => res.writeHead(201, { 'content-length': '0' }).end());
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-pipelined-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = await gatewayFor(t, url, {
    log: { level: 'silent' },
    listen: { drainTimeout: '5s' },
    origins: [{ name: 'files', url, headroom: { local: { paths: [dir], capacity: '10MiB', interval: '50ms' } } }],
    policy: { reserve: '0%' },
  });
  await until(() => [...gateway.registry.all()][0]!.snapshot !== null, 'a first snapshot');

  for (let i = 0; i < 3; i++) {
    const socket = net.connect(gateway.port, '127.0.0.1');
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    await once(socket, 'connect');
    socket.write(`GET /slow HTTP/1.1\r\nHost: h\r\n\r\nPUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: ${4 * MiB}\r\n\r\n`);
    await until(() => received.includes('0123456789'), 'the GET streaming');
    t.equal(gateway.ledger.totalReservedBytes(), 0, `connection ${i + 1}: the PUT behind the GET is not judged (nor reserved) before the GET is answered`);
    socket.destroy();
  }
  t.equal((await request(`${gateway.url}/next`, { method: 'PUT', headers: { 'content-length': String(8 * MiB) } }, Buffer.alloc(8 * MiB))).status, 201, 'an 8 MiB PUT fits the 10 MiB volume');
  const started = performance.now();
  await gateway.shutdown();
  t.ok(performance.now() - started < 1000, 'shutdown waits for nothing: no exchange was left in flight');
});
