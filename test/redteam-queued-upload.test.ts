import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { gatewayFor } from './helpers/gateway.js';
import { request, until } from './helpers/http.js';

const KiB = 1024;

/**
 * An origin whose `/hold` is answered only when told (it keeps the
 * gateway's only upstream socket busy); every PUT it reads whole is counted.
 */
async function holdingOrigin(): Promise<{ url: string; puts: string[]; holding: () => boolean; release: () => void; close: () => Promise<void> }> {
  const puts: string[] = [];
  let release: (() => void) | null = null;
  const server = http.createServer((req, res) => {
    if (req.url === '/hold') {
      release = () => res.writeHead(200, { 'content-length': '0' }).end();
      return;
    }
    let body = 0;
    req.on('data', (chunk: Buffer) => (body += chunk.length));
    req.on('end', () => {
      if (req.method === 'PUT') puts.push(`${req.url} ${body}`);
      res.writeHead(201, { 'content-length': '0' }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    puts,
    holding: () => release !== null,
    release: () => release?.(),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * With `maxSockets`, an admitted request waits in the agent's queue for an
 * upstream socket, its body held. A client that sends a whole small PUT and
 * leaves while it waits ends the exchange and releases its reservation;
 * `upstreamRequest` is still null then, so it is http-proxy's own abort on
 * the request's 'aborted' (the body was never read) that keeps the queued
 * PUT from reaching the origin later, reserved by nobody. Eight such 12 KiB
 * PUTs would put 96 KiB on a volume with 64 KiB of room.
 */
t.test('a PUT whose client left while it waited for an upstream socket never reaches the origin', async (t) => {
  const origin = await holdingOrigin();
  t.teardown(() => origin.close());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-queued-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = await gatewayFor(t, origin.url, {
    log: { level: 'silent' },
    origins: [{ name: 'files', url: origin.url, maxSockets: 1, timeout: '10s', headroom: { local: { paths: [dir], capacity: '64KiB', interval: '50ms' } } }],
    policy: { reserve: '0%' },
  });
  const volume = () => [...gateway.registry.all()][0]!;
  await until(() => volume().snapshot !== null, 'a first snapshot');

  const held = request(`${gateway.url}/hold`);
  await until(origin.holding, 'the origin holding the only upstream socket');

  const size = 12 * KiB;
  const statuses: string[] = [];
  for (let i = 0; i < 8; i++) {
    const socket = net.connect(gateway.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => statuses.push(d.toString('latin1').slice(0, 12)));
    await once(socket, 'connect');
    socket.write(`PUT /f${i} HTTP/1.1\r\nHost: h\r\nContent-Length: ${size}\r\n\r\n`);
    socket.write(Buffer.alloc(size, 0x61));
    await until(() => gateway.ledger.totalReservedBytes() === size || statuses.length > i, `PUT ${i} admitted`);
    socket.destroy();
    await until(() => gateway.ledger.totalReservedBytes() === 0, `PUT ${i}'s reservation released`);
  }
  t.same(statuses, [], 'no PUT was refused: each saw the room its predecessors gave back');

  origin.release();
  t.equal((await held).status, 200);
  // Requests queued for the one socket go in order: a GET after them is answered after them.
  t.equal((await request(`${gateway.url}/probe`)).status, 201);
  t.same(origin.puts, [], 'no PUT whose exchange had ended reached the origin');
  t.ok(origin.puts.length * size <= 64 * KiB, `the origin received ${origin.puts.length * size / KiB} KiB of PUTs on a 64 KiB volume`);
});
