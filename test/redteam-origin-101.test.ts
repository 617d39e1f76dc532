import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { configFor, startTestGateway } from './helpers/gateway.js';
import { converse, statusesOf } from './helpers/redteam.js';

/**
 * The gateway never forwards Upgrade, so an origin's 101 is a broken answer.
 * Node's client takes it as a protocol switch; with no 'upgrade' listener on
 * the upstream request it destroys the socket and emits neither 'response'
 * nor 'error', and the idle timeout went with the socket: http-proxy's
 * callback never runs, the client waits for ever and the exchange (with any
 * reservation it holds) stays open until the client gives up.
 */
t.test('an origin that answers 101 to a request without Upgrade: the client gets a 502', async (t) => {
  const origin = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nbytes'));
  });
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  t.teardown(() => origin.close());
  const gateway = await startTestGateway(configFor(`http://127.0.0.1:${(origin.address() as net.AddressInfo).port}`, { log: { level: 'silent' }, listen: { drainTimeout: '1s' } }));
  t.teardown(() => gateway.shutdown());
  // The origin timeout is 2 s (configFor); a 502 or 504 must have come well within 3.
  const raw = await converse(gateway.port, ['GET /e HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'], 3000);
  t.ok([502, 504].includes(statusesOf(raw)[0] ?? 0), `the client got a 502 or 504 (got ${JSON.stringify(raw.slice(0, 40))})`);
  t.notOk(raw.includes('bytes'), 'no byte of the switched protocol reached the client');
});
