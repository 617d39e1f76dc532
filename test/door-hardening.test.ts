import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { configFor, gatewayFor, startTestGateway } from './helpers/gateway.js';
import { request, serve, until } from './helpers/http.js';
import { startRawOrigin } from './helpers/raw-origin.js';

const CRLF = '\r\n';

t.test('a client that resets its connection after an Upgrade request does not bring the gateway down', async (t) => {
  const origin = await startRawOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url, { log: { level: 'silent' } });
  for (let i = 0; i < 20; i++) {
    const socket = net.connect(gateway.port, '127.0.0.1');
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    socket.write(`GET /ws HTTP/1.1${CRLF}Host: h${CRLF}Connection: Upgrade${CRLF}Upgrade: websocket${CRLF}${CRLF}`);
    socket.resetAndDestroy();
  }
  t.equal((await request(`${gateway.url}/after`)).status, 200, 'the gateway still answers');
  t.same(origin.requests.map((r) => r.target), ['/after'], 'only the plain request reached the origin');
});

t.test('a connection answered on its bare socket is let go of after the linger time, though the client never closes it', async (t) => {
  const origin = await startRawOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url, { log: { level: 'silent' }, listen: { lingerTime: '300ms' } });
  const socket = net.connect(gateway.port, '127.0.0.1');
  socket.on('error', () => undefined);
  let received = '';
  let closedAt = 0;
  let ended = false;
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('end', () => (ended = true)); // the gateway's FIN; this client never sends its own
  socket.on('close', () => (closedAt = performance.now()));
  await once(socket, 'connect');
  socket.allowHalfOpen = true;
  const sentAt = performance.now();
  socket.write(`GET / HTTP/1.1${CRLF}Host: h${CRLF}Bad Header: x${CRLF}${CRLF}`);
  // Bytes written after the gateway's FIN are read until it lets go; then they meet a reset.
  await until(() => {
    if (ended && !socket.destroyed) socket.write('x');
    return closedAt > 0;
  }, 'the gateway to let go of the connection', 3000);
  t.match(received, /^HTTP\/1\.1 400 /, 'the 400 came first');
  t.ok(closedAt - sentAt < 1500, `closed ${Math.round(closedAt - sentAt)} ms after, the linger time and a margin`);
});

t.test('with listen.maxHeaders above Node’s own 1,000, a framing field past the 1,000th still frames the body', async (t) => {
  const origin = await startRawOrigin();
  t.teardown(() => origin.close());
  const gateway = await startTestGateway(configFor(origin.url, { log: { level: 'silent' }, listen: { maxHeaders: 2000, maxHeaderSize: '64KiB' } }));
  t.teardown(() => gateway.shutdown());
  const fields = Array.from({ length: 1001 }, (_, i) => `X-F${i}: v${CRLF}`).join('');
  const smuggled = `DELETE /victim HTTP/1.1${CRLF}Host: h${CRLF}${CRLF}`;
  const socket = net.connect(gateway.port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.end(`POST /e HTTP/1.1${CRLF}Host: h${CRLF}${fields}Transfer-Encoding: chunked${CRLF}Connection: close${CRLF}${CRLF}${smuggled.length.toString(16)}${CRLF}${smuggled}${CRLF}0${CRLF}${CRLF}`);
  await until(() => origin.requests.length > 0 || origin.garbage.length > 0, 'the origin to read something');
  await gateway.shutdown();
  t.same(origin.garbage, [], 'nothing unframed');
  t.same(origin.requests.map((r) => [r.target, r.framing, r.body.toString('latin1')]), [['/e', 'chunked', smuggled]], 'one chunked request with its body');
});

t.test('pipelined requests behind a slow one are read ahead only so far', async (t) => {
  let release: (() => void) | null = null;
  const url = await serve(t, (req, res) => {
    if (req.url === '/hold') release = () => res.end('held');
    else res.end('ok');
  });
  const gateway = await gatewayFor(t, url, { log: { level: 'silent' } });
  const metrics = async (): Promise<number> => {
    const text = (await request(`http://127.0.0.1:${gateway.adminAddress.port}/metrics`)).body.toString();
    return Number(/^headroom_requests_in_flight(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? NaN);
  };
  const socket = net.connect(gateway.port, '127.0.0.1');
  socket.on('error', () => undefined);
  let answers = 0;
  socket.on('data', (d: Buffer) => (answers += (d.toString('latin1').match(/HTTP\/1\.1 200/g) ?? []).length));
  await once(socket, 'connect');
  socket.write(`GET /hold HTTP/1.1${CRLF}Host: h${CRLF}${CRLF}` + `GET /x HTTP/1.1${CRLF}Host: h${CRLF}${CRLF}`.repeat(5000));
  await until(() => release !== null, 'the first request at the origin');
  let closed = false;
  socket.on('close', () => (closed = true));
  await until(async () => (await metrics()) >= 2, 'the gateway to read ahead');
  const held = await metrics();
  t.ok(held <= 32, `${held} exchanges held for one connection (5,001 sent)`);
  release!();
  await until(() => closed, 'the connection to close once the held requests are answered', 5000);
  t.equal(answers, held, `the ${held} held requests were answered, in order, and no more`);
});

t.test('a request that waits for a connection to a capped origin still goes out with its exact target and body', async (t) => {
  let release: (() => void) | null = null;
  const seen: Array<[string, string]> = [];
  const url = await serve(t, (req, res) => {
    if (req.url === '/hold') return void (release = () => res.end('held'));
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('latin1')));
    req.on('end', () => {
      seen.push([req.url ?? '', body]);
      res.end('ok');
    });
  });
  const gateway = await gatewayFor(t, url, { log: { level: 'silent' }, origins: [{ name: 'files', url, maxSockets: 1 }] });
  const held = request(`${gateway.url}/hold`);
  await until(() => release !== null, 'the only origin connection to be busy');
  const queued = ['//a//b', '/x/http:/y', '/p?q=//r'].map((target) =>
    new Promise<string>((resolve) => {
      const socket = net.connect(gateway.port, '127.0.0.1', () =>
        socket.write(`PUT ${target} HTTP/1.1${CRLF}Host: h${CRLF}Transfer-Encoding: chunked${CRLF}Connection: close${CRLF}${CRLF}5${CRLF}hello${CRLF}0${CRLF}${CRLF}`),
      );
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      socket.on('close', () => resolve(received));
    }),
  );
  release!();
  await held;
  const answers = await Promise.all(queued);
  t.ok(answers.every((a) => a.startsWith('HTTP/1.1 200')), 'each queued request answered');
  t.same(seen.sort(), [['//a//b', 'hello'], ['/p?q=//r', 'hello'], ['/x/http:/y', 'hello']], 'each went out with its target byte for byte and its body');
});
