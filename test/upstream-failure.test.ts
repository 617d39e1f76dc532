import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { configFor, gatewayFor, originBehindGateway, startTestGateway } from './helpers/gateway.js';
import { freePort, request, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';

t.test('origin down: 502 problem+json with Via; origin back: the next request succeeds', async (t) => {
  const port = await freePort();
  const gateway = await gatewayFor(t, `http://127.0.0.1:${port}`);

  const started = performance.now();
  const down = await request(`${gateway.url}/file`, { method: 'PUT', headers: { 'content-length': '5' } }, 'hello');
  t.ok(performance.now() - started < 1000, 'answered within the configured connect timeout (1s)');
  t.equal(down.status, 502);
  t.equal(down.headers['content-type'], 'application/problem+json');
  t.equal(down.headers.via, '1.1 headroom-1');
  t.match(JSON.parse(down.body.toString()), { status: 502, error: 'bad_gateway', origin: 'files', upstream_failure: 'refused' });

  const origin = await startTestOrigin(port);
  t.teardown(() => origin.close());
  const up = await request(`${gateway.url}/file`, { method: 'PUT', headers: { 'content-length': '5' } }, 'hello');
  t.equal(up.status, 201, 'the first request after the origin is back succeeds');
  await until(() => gateway.logLines.some((l) => l.status === 502 && l.upstreamFailure === 'refused'), 'the access line of the 502');
});

t.test('an origin that accepts but never answers: 504 after the origin timeout', async (t) => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s.on('data', () => undefined))).listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const gateway = await startTestGateway(configFor(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, {
    origins: [{ name: 'files', url: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, timeout: '300ms' }],
  }));
  t.teardown(async () => {
    await gateway.shutdown();
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const started = performance.now();
  const reply = await request(`${gateway.url}/slow`);
  const took = performance.now() - started;
  t.equal(reply.status, 504);
  t.ok(took >= 290 && took < 2000, `answered after the 300ms timeout (${Math.round(took)} ms)`);
  t.match(JSON.parse(reply.body.toString()), { error: 'gateway_timeout', upstream_failure: 'timeout' });
  await until(() => sockets.every((s) => s.destroyed || s.readableEnded), 'the gateway to let go of the silent origin');
});

t.test('an origin that resets mid-response: the client sees a broken response, not a complete one', async (t) => {
  const liar = net.createServer((s) => {
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + 'x'.repeat(100));
      setImmediate(() => s.destroy());
    });
  }).listen(0, '127.0.0.1');
  await once(liar, 'listening');
  t.teardown(() => liar.close());
  const gateway = await gatewayFor(t, `http://127.0.0.1:${(liar.address() as net.AddressInfo).port}`);
  await t.rejects(request(`${gateway.url}/partial`), 'the client’s read fails instead of ending cleanly');
});

for (const leave of ['destroy', 'end'] as const) {
  t.test(`a client that leaves mid-upload (${leave}) aborts the upstream request; the origin keeps no file`, async (t) => {
    const { origin, gateway } = await originBehindGateway(t);
    const socket = net.connect(gateway.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('PUT /partial.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n');
    socket.write(Buffer.alloc(1_000_000));
    await until(() => origin.stats.bodyBytes > 0, 'the origin to receive the start of the body');
    socket[leave]();
    await until(() => gateway.logLines.some((l) => l.path === '/partial.bin'), 'the exchange to end');
    const { readdir } = await import('node:fs/promises');
    await until(async () => (await readdir(origin.root)).length === 0, 'the origin to drop its partial upload');
    t.ok(origin.stats.bodyBytes < 10_000_000, 'the origin never received a complete body');
    t.equal(gateway.logLines.find((l) => l.path === '/partial.bin')!.status, 499, 'logged as 499, client gone');
    socket.destroy();
  });
}

t.test('an origin that resets mid-upload: the 502 keeps the connection, and the next request on it is answered', async (t) => {
  // PUTs are reset at their first body bytes, with most of the body still to come; GETs are answered.
  const requestLines: string[] = [];
  const resetter = net.createServer((s) => {
    s.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      if (/^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(text)) requestLines.push(text.slice(0, text.indexOf('\r\n')));
      if (text.startsWith('GET')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else s.destroy();
    });
  }).listen(0, '127.0.0.1');
  await once(resetter, 'listening');
  t.teardown(() => resetter.close());
  const gateway = await gatewayFor(t, `http://127.0.0.1:${(resetter.address() as net.AddressInfo).port}`, { listen: { lingerTime: '20s' } });
  const socket = net.connect(gateway.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  const answered = (): boolean => {
    const end = received.indexOf('\r\n\r\n');
    const length = /\r\ncontent-length: (\d+)\r\n/i.exec(received)?.[1];
    return end >= 0 && length !== undefined && received.length - end - 4 >= Number(length);
  };
  socket.write('PUT /big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 33554432\r\n\r\n');
  // The body is made of what looks like requests: dropped as body, none may reach the origin as one.
  const smuggled = Buffer.from('GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n');
  const body = Buffer.alloc(32 * 1024 * 1024);
  for (let at = 0; at + smuggled.length <= body.length; at += smuggled.length) smuggled.copy(body, at);
  socket.write(body);
  await until(answered, 'the 502');
  t.match(received, /^HTTP\/1\.1 502 /);
  t.match(received, /\r\nConnection: keep-alive\r\n/i, 'the 502 says the connection stays open');
  received = '';
  socket.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
  // Within the linger time: the rest of the body is read and dropped, then the next request is read.
  await until(answered, 'the answer to the next request on that connection', 10_000);
  t.match(received, /^HTTP\/1\.1 200 /);
  t.same(requestLines, ['PUT /big.bin HTTP/1.1', 'GET /next HTTP/1.1'], 'the origin was asked for the upload and the next request, nothing from inside the body');
});
