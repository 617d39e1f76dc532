import t, { type Test } from 'tap';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { configFor, gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { request, statusOf, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';
import { startGateway } from '../src/gateway/gateway.js';
import { capConnections, connectionCap, openFileLimitIn } from '../src/gateway/listener-limits.js';
import { createLogger } from '../src/log/log.js';

/** A client connection as the test sees it: when it connected and closed, what came back. */
interface Watched {
  readonly socket: net.Socket;
  connectedAt: number;
  closedAt: number;
  received: string;
}

function connect(port: number, onConnect: (w: Watched) => void = () => undefined): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const watched: Watched = { socket, connectedAt: 0, closedAt: 0, received: '' };
    socket.once('connect', () => {
      watched.connectedAt = performance.now();
      onConnect(watched);
      resolve(watched);
    });
    socket.on('data', (d: Buffer) => (watched.received += d.toString('latin1')));
    socket.on('error', (err) => (watched.connectedAt ? undefined : reject(err)));
    socket.once('close', () => (watched.closedAt = performance.now()));
  });
}

/** Opens `count` connections, a batch at a time (the listen backlog is finite). */
async function connectMany(port: number, count: number, onConnect?: (w: Watched) => void): Promise<Watched[]> {
  const all: Watched[] = [];
  for (let i = 0; i < count; i += 100) {
    all.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => connect(port, onConnect)))));
  }
  return all;
}

/** An origin that records, per request, the body bytes it got and whether the request ended or broke off. */
async function recordingOrigin(t: Test): Promise<{ url: string; seen: Array<{ url: string; bytes: number; ended: boolean; closed: boolean }> }> {
  const seen: Array<{ url: string; bytes: number; ended: boolean; closed: boolean }> = [];
  const server = http.createServer((req, res) => {
    const entry = { url: req.url ?? '', bytes: 0, ended: false, closed: false };
    seen.push(entry);
    req.on('data', (chunk: Buffer) => (entry.bytes += chunk.length));
    req.on('end', () => {
      entry.ended = true;
      res.writeHead(201, { 'content-length': '0' }).end();
    });
    req.on('close', () => (entry.closed = true));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen };
}

/** A volume of `capacity` on a temp dir, for a gateway whose reservations the test reads. */
function volumeDir(t: Test): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-timeouts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const CHUNKED_PUT = (name: string, extra = ''): string =>
  `PUT /${name} HTTP/1.1\r\nHost: files\r\nTransfer-Encoding: chunked\r\n${extra}\r\n`;

t.test('silent and slowloris connections are closed within the header timeout; a probe is answered throughout', async (t) => {
  const limit = openFileLimitIn(readFileSync('/proc/self/limits', 'utf8'));
  // Each attacking connection costs two descriptors in this process (client and gateway side).
  const room = limit === null ? Infinity : Math.floor((limit - 200) / 2);
  const scale = Math.min(1, room / 1200);
  const silentCount = Math.floor(1000 * scale);
  const slowCount = Math.floor(200 * scale);
  t.comment(`open-file limit ${limit ?? 'unlimited'}: ${silentCount} silent and ${slowCount} slowloris connections`);

  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  writeFileSync(path.join(origin.root, 'probe.txt'), 'still here\n');
  const headersTimeout = 1000;
  const gateway = await gatewayFor(t, origin.url, { listen: { headersTimeout: `${headersTimeout}ms`, maxConnections: 0 }, log: { level: 'warn' } });

  const probes: Array<number | string> = [];
  let attacking = true;
  t.teardown(() => void (attacking = false));
  const probing = (async () => {
    while (attacking) {
      const started = performance.now();
      probes.push(await request(`${gateway.url}/probe.txt`).then((r) => r.status, (err: NodeJS.ErrnoException) => err.code ?? err.message));
      await pause(Math.max(0, 100 - (performance.now() - started)));
    }
  })();

  const slowHeader = 'X-Slow: ' + 'a'.repeat(100);
  const timers: NodeJS.Timeout[] = [];
  const silent = await connectMany(gateway.port, silentCount);
  const slow = await connectMany(gateway.port, slowCount, (w) => {
    w.socket.write('GET /probe.txt HTTP/1.1\r\nHost: files\r\n');
    let i = 0;
    const timer = setInterval(() => {
      if (w.socket.writable) w.socket.write(slowHeader[i++ % slowHeader.length]!);
    }, 300);
    timers.push(timer);
  });
  const attackers = [...silent, ...slow];
  t.teardown(() => {
    timers.forEach(clearInterval);
    attackers.forEach((w) => w.socket.destroy());
  });

  await until(() => attackers.every((w) => w.closedAt > 0), 'every attacking connection to be closed', 10_000);
  attacking = false;
  await probing;
  timers.forEach(clearInterval);

  const held = attackers.map((w) => w.closedAt - w.connectedAt).sort((a, b) => a - b);
  const [shortest, median, longest] = [held[0]!, held[held.length >> 1]!, held[held.length - 1]!].map(Math.round);
  t.comment(`held ${shortest}–${longest} ms (median ${median}) with headersTimeout ${headersTimeout} ms; ${probes.length} probes`);
  // The margin: Node's check runs every tenth of the timeout, and this one
  // process is the gateway and all its clients on a shared machine.
  t.ok(longest <= headersTimeout + 750, `every connection closed within the timeout and a small margin (longest ${longest} ms)`);
  t.ok(shortest >= headersTimeout - 50, `none closed before the timeout (shortest ${shortest} ms)`);
  t.ok(slow.every((w) => statusOf(w.received) === 408 && w.received.includes('"request_timeout"')), 'each slowloris connection was answered 408 request_timeout');
  t.ok(silent.every((w) => w.received === ''), 'a connection that sent nothing was closed unanswered');
  t.ok(probes.length >= 5, 'the probe ran throughout the attack');
  t.same(probes.filter((p) => p !== 200), [], 'every probe was answered 200');
  t.equal(origin.stats.requests, probes.length, 'only the probes reached the origin');
});

t.test('a chunked upload that stops sending gets 408 within the body timeout; the origin sees it broken off; nothing stays reserved', async (t) => {
  const origin = await recordingOrigin(t);
  const dir = volumeDir(t);
  const bodyIdleTimeout = 1000;
  const gateway = await gatewayFor(t, origin.url, {
    listen: { bodyIdleTimeout: `${bodyIdleTimeout}ms` },
    origins: [{ name: 'files', url: origin.url, timeout: '5s', headroom: { local: { paths: [dir], capacity: '10MiB', interval: '50ms' } } }],
    policy: { reserve: '0%', unknownLength: '1MiB' },
  });
  await until(() => [...gateway.registry.all()][0]?.snapshot != null, 'a first snapshot');

  const client = await connect(gateway.port);
  client.socket.write(CHUNKED_PUT('stalled.bin') + `400\r\n${'x'.repeat(1024)}\r\n`);
  const sentAt = performance.now();
  await until(() => origin.seen[0]?.bytes === 1024, 'the first chunk at the origin');
  t.ok(gateway.ledger.totalReservedBytes() > 0, 'the upload holds a reservation while it is open');

  await until(() => client.closedAt > 0, 'the gateway to close the stalled connection', 5000);
  const answeredAfter = client.closedAt - sentAt;
  t.equal(statusOf(client.received), 408, '408 to the stalled upload');
  t.match(client.received, /\r\nConnection: close\r\n/i, 'with Connection: close');
  t.match(client.received, /"error":"request_timeout"/);
  t.ok(answeredAfter >= bodyIdleTimeout - 50 && answeredAfter <= bodyIdleTimeout + 500, `answered within the body timeout and a small margin (${Math.round(answeredAfter)} ms)`);
  await until(() => origin.seen[0]!.closed, 'the origin’s request to end');
  t.match(origin.seen[0], { bytes: 1024, ended: false, closed: true }, 'the origin saw the upload broken off, not a complete short file');
  await until(() => gateway.ledger.totalReservedBytes() === 0, 'the reservation to be released');
  t.equal(gateway.ledger.totalReservedBytes(), 0, 'nothing stays reserved');
});

t.test('with no least rate, an upload that is slow but never idle for the body timeout completes, however long it takes', async (t) => {
  const origin = await recordingOrigin(t);
  const gateway = await gatewayFor(t, origin.url, { listen: { bodyIdleTimeout: '500ms', headersTimeout: '500ms', minBodyRate: 0 }, origins: [{ name: 'files', url: origin.url, timeout: '5s' }] });
  const client = await connect(gateway.port);
  client.socket.write(CHUNKED_PUT('slow.bin'));
  const started = performance.now();
  // A byte every 200 ms for three times the timeout.
  for (let i = 0; i < 8; i++) {
    client.socket.write('1\r\nz\r\n');
    await pause(200);
  }
  client.socket.write('0\r\n\r\n');
  await until(() => statusOf(client.received) !== 0, 'the answer');
  t.equal(statusOf(client.received), 201, 'stored');
  t.ok(performance.now() - started > 1500, 'the upload took longer than both timeouts together');
  t.match(origin.seen[0], { bytes: 8, ended: true });
  client.socket.destroy();
});

t.test('an upload trickling below listen.minBodyRate gets 408 and gives its reservation back; one at the rate completes', async (t) => {
  const origin = await recordingOrigin(t);
  const dir = volumeDir(t);
  const gateway = await gatewayFor(t, origin.url, {
    listen: { bodyIdleTimeout: '400ms', minBodyRate: '1KiB' },
    origins: [{ name: 'files', url: origin.url, timeout: '5s', headroom: { local: { paths: [dir], capacity: '10MiB', interval: '50ms' } } }],
    policy: { reserve: '0%' },
  });
  await until(() => [...gateway.registry.all()][0]?.snapshot != null, 'a first snapshot');
  // 10 bytes every 100 ms: never idle, but 100 bytes/s against the 1,024 asked for.
  const slow = await connect(gateway.port);
  slow.socket.write(`PUT /trickle.bin HTTP/1.1\r\nHost: h\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n`);
  const started = performance.now();
  while (slow.closedAt === 0 && performance.now() - started < 5000) {
    slow.socket.write('x'.repeat(10));
    await pause(100);
  }
  t.equal(statusOf(slow.received), 408, '408 to the trickling upload');
  t.match(slow.received, /below the 1024 bytes\/s/);
  t.ok(slow.closedAt - started < 1500, `within a few windows of the body timeout (${Math.round(slow.closedAt - started)} ms)`);
  await until(() => gateway.ledger.totalReservedBytes() === 0, 'its 8 MiB reservation to be given back');
  t.match(origin.seen[0], { ended: false }, 'the origin saw it broken off');

  // 2 KiB every 100 ms: 20 KiB/s, above the rate, over several windows.
  const steady = await connect(gateway.port);
  const total = 20 * 2048;
  steady.socket.write(`PUT /steady.bin HTTP/1.1\r\nHost: h\r\nContent-Length: ${total}\r\n\r\n`);
  for (let sent = 0; sent < total; sent += 2048) {
    steady.socket.write('y'.repeat(2048));
    await pause(100);
  }
  await until(() => statusOf(steady.received) !== 0, 'the answer');
  t.equal(statusOf(steady.received), 201, 'stored');
  steady.socket.destroy();
});

t.test('an origin slower than the client: time the gateway is not reading is not the client’s idleness', async (t) => {
  const MiB = 1024 * 1024;
  let received = 0;
  let reading: (() => void) | null = null;
  // Reads a first chunk, then stops reading for three body timeouts, as a busy disk would.
  const server = http.createServer((req, res) => {
    req.once('data', (chunk: Buffer) => {
      received += chunk.length;
      req.pause();
      reading = () => {
        req.on('data', (c: Buffer) => (received += c.length));
        req.resume();
      };
    });
    req.on('end', () => res.writeHead(201, { 'content-length': '0' }).end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const gateway = await gatewayFor(t, url, { listen: { bodyIdleTimeout: '500ms' }, origins: [{ name: 'files', url, timeout: '5s' }] });
  const answer = request(`${gateway.url}/big.bin`, { method: 'PUT', headers: { 'content-length': String(16 * MiB) } }, Buffer.alloc(16 * MiB));
  await until(() => reading !== null, 'the origin to stop reading');
  await pause(1500);
  reading!();
  t.equal((await answer).status, 201, 'the upload completes once the origin reads again');
  t.equal(received, 16 * MiB);
});

t.test('Expect: 100-continue: the body clock starts with the 100 Continue, not before', async (t) => {
  const origin = await recordingOrigin(t);
  const config = configFor(origin.url, { listen: { bodyIdleTimeout: '500ms' }, origins: [{ name: 'files', url: origin.url, timeout: '5s' }] });
  // A decision that takes longer than the body timeout (a slow shared ledger, say).
  const slowDecision = async (): Promise<undefined> => void (await pause(800));
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const gateway = await startGateway(config, { logger: createLogger('warn', sink), steps: [slowDecision] });
  t.teardown(() => gateway.shutdown());
  const port = gateway.address.port;

  const patient = await connect(port);
  patient.socket.write(CHUNKED_PUT('patient.bin', 'Expect: 100-continue\r\n'));
  await until(() => statusOf(patient.received) === 100, '100 Continue', 3000);
  patient.socket.write('5\r\nhello\r\n0\r\n\r\n');
  await until(() => /HTTP\/1\.1 201/.test(patient.received), 'the final answer', 3000);
  t.pass('a client that waited for 100 Continue longer than the body timeout is not timed out');

  const stalled = await connect(port);
  stalled.socket.write(CHUNKED_PUT('stalled.bin', 'Expect: 100-continue\r\n'));
  await until(() => statusOf(stalled.received) === 100, '100 Continue', 3000);
  const continuedAt = performance.now();
  await until(() => stalled.closedAt > 0, 'the stalled connection to close', 3000);
  t.match(stalled.received, /HTTP\/1\.1 408 /, 'one that then sends nothing gets 408');
  t.ok(stalled.closedAt - continuedAt >= 450, 'counted from the 100 Continue');
  patient.socket.destroy();
});

t.test('an idle keep-alive connection is closed after the keep-alive timeout, and served before it', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  writeFileSync(path.join(origin.root, 'a.txt'), 'a\n');
  const gateway = await gatewayFor(t, origin.url, { listen: { keepAliveTimeout: '1s' } });
  const client = await connect(gateway.port);
  t.teardown(() => client.socket.destroy());
  const get = 'GET /a.txt HTTP/1.1\r\nHost: files\r\n\r\n';
  client.socket.write(get);
  await until(() => client.received.endsWith('a\n'), 'the first answer');
  t.match(client.received, /\r\nKeep-Alive: timeout=1\r\n/i, 'the answer tells the client how long the connection is kept');
  await pause(600);
  client.received = '';
  client.socket.write(get);
  await until(() => client.received.endsWith('a\n'), 'the second answer on the same connection');
  const idleFrom = performance.now();
  await until(() => client.closedAt > 0, 'the idle connection to close', 4000);
  const idle = client.closedAt - idleFrom;
  // Node closes a second past the advertised timeout, so that a client honouring it closes first.
  t.ok(idle >= 950 && idle <= 2500, `closed after the keep-alive timeout (${Math.round(idle)} ms idle)`);
});

t.test('past listen.maxConnections new connections are closed; the ones held are served; room frees as they close', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  writeFileSync(path.join(origin.root, 'a.txt'), 'a\n');
  const gateway = await gatewayFor(t, origin.url, { listen: { maxConnections: 10, headersTimeout: '20s' }, log: { level: 'info' } });
  const kept = await connect(gateway.port); // a keep-alive client already in
  const idle = await connectMany(gateway.port, 9);
  t.teardown(() => [kept, ...idle].forEach((w) => w.socket.destroy()));

  const refused = await connect(gateway.port);
  await until(() => refused.closedAt > 0, 'the connection past the cap to be closed');
  t.equal(refused.received, '', 'closed at once, unanswered');
  kept.socket.write('GET /a.txt HTTP/1.1\r\nHost: files\r\n\r\n');
  await until(() => kept.received.endsWith('a\n'), 'an answer on a connection within the cap');
  t.equal(statusOf(kept.received), 200, 'connections within the cap are served');
  await until(() => gateway.logLines.some((l) => l.msg === 'connection cap reached: new connections are closed (listen.maxConnections)' && l.maxConnections === 10), 'the warning');

  idle[0]!.socket.destroy();
  await until(async () => (await request(`${gateway.url}/a.txt`).then((r) => r.status, () => 0)) === 200, 'a new connection to be served once one has closed');
  t.pass('a new connection is served once there is room');
});

t.test('auto: the cap leaves room within the open-file limit for each connection’s upstream one', async (t) => {
  t.equal(connectionCap('auto', () => 1024), 480, 'under ulimit -n 1024');
  t.equal(connectionCap('auto', () => null), 0, 'no cap where the limit is unknown or unlimited');
  t.equal(connectionCap(300, () => 1024), 300, 'a number is taken as it is');
  t.equal(connectionCap(0, () => 1024), 0, '0 is no cap');
  const text = 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 4096                 files     \n';
  t.equal(openFileLimitIn(text), 1024, 'the soft limit is read');
  t.equal(openFileLimitIn(text.replace('1024 ', 'unlimited ')), null, 'unlimited');
  t.ok((openFileLimitIn(readFileSync('/proc/self/limits', 'utf8')) ?? 0) > 0, 'this process’s limit is found');
});

t.test('no cap is no cap on every Node: the server is given Infinity, never 0 (Node 22 closes every connection at 0)', async (t) => {
  const server = http.createServer();
  capConnections(server, 0, createLogger('silent'));
  t.equal(server.maxConnections, Infinity);
  capConnections(server, 300, createLogger('silent'));
  t.equal(server.maxConnections, 300, 'a cap is the number');
});

t.test('the origin’s timeout covers an origin that took the whole upload and stays silent', async (t) => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s.on('data', () => undefined))).listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => {
    sockets.forEach((s) => s.destroy());
    silent.close();
  });
  const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  const gateway: RunningGateway = await gatewayFor(t, url, { origins: [{ name: 'files', url, timeout: '500ms' }], listen: { bodyIdleTimeout: '5s' } });
  const started = performance.now();
  const reply = await request(`${gateway.url}/up.bin`, { method: 'PUT', headers: { 'content-length': '5' } }, 'hello');
  const took = performance.now() - started;
  t.equal(reply.status, 504);
  t.match(JSON.parse(reply.body.toString()), { error: 'gateway_timeout', upstream_failure: 'timeout' });
  t.ok(took >= 450 && took < 1500, `after the origin's timeout (${Math.round(took)} ms)`);
});

t.test('a client pausing its upload longer than the origin’s timeout (within the body timeout) is not blamed on the origin', async (t) => {
  const origin = await recordingOrigin(t);
  const gateway = await gatewayFor(t, origin.url, { origins: [{ name: 'files', url: origin.url, timeout: '300ms' }], listen: { bodyIdleTimeout: '5s' } });
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${gateway.url}/paused.bin`, { method: 'PUT', agent: false, headers: { 'content-length': '10' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.write('hello');
    // Twice the origin's timeout of silence from the client, then the rest.
    void pause(600).then(() => req.end('world'));
  });
  t.equal(status, 201, 'the upload completes');
  t.same(origin.seen.map((s) => [s.bytes, s.ended]), [[10, true]], 'the origin got all of it');
});
