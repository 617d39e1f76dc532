import dgram from 'node:dgram';
import t from 'tap';
import { configFor, startTestGateway } from './helpers/gateway.js';
import { request, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';

// The decision endpoint with a token: only the proxy that carries it may
// ask (anyone else who reaches the endpoint could hold room).

t.test('with a token, a question without it, with a wrong one or with two is 401 and holds nothing; with it, the write is allowed', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const gateway = await startTestGateway(configFor(origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [origin.root] } } }],
    plugins: [{ name: 'decide', options: { listen: { host: '127.0.0.1', port: 0 }, token: 'proxy-secret-0451' } }],
  }));
  t.teardown(() => gateway.shutdown());
  const admin = `http://127.0.0.1:${gateway.adminAddress.port}`;
  const { listen } = JSON.parse((await request(`${admin}/plugins/decide/`)).body.toString()) as { listen: { port: number } };
  const ask = (token: string | string[] | undefined) =>
    request(`http://127.0.0.1:${listen.port}/`, { headers: { 'x-original-method': 'PUT', 'x-original-uri': '/a.bin', 'x-original-content-length': '100', ...(token === undefined ? {} : { 'x-headroom-token': token }) } });
  for (const [what, token] of [['none', undefined], ['a wrong one', 'proxy-secret-0452'], ['a shorter one', 'proxy'], ['two', ['proxy-secret-0451', 'proxy-secret-0451']]] as const) {
    const answer = await ask(token as string | string[] | undefined);
    t.equal(answer.status, 401, `${what}: 401`);
    t.equal(JSON.parse(answer.body.toString()).error, 'decision_not_allowed');
  }
  t.equal(gateway.ledger.totalReservedBytes(), 0, 'nothing held for them');
  const allowed = await ask('proxy-secret-0451');
  t.equal(allowed.status, 204, 'the proxy with the token is answered');
  t.equal(gateway.ledger.totalReservedBytes(), 100, 'and its write holds its room');
});

t.test('with a token, a syslog end signal without it (or with a wrong one), or a line that is no signal, ends nothing', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const token = 'proxy-secret-0451';
  const gateway = await startTestGateway(configFor(origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [origin.root] } } }],
    plugins: [{ name: 'decide', options: { listen: { host: '127.0.0.1', port: 0 }, syslog: { port: 0 }, token } }],
  }));
  t.teardown(() => gateway.shutdown());
  const admin = `http://127.0.0.1:${gateway.adminAddress.port}`;
  const endpoint = async () => JSON.parse((await request(`${admin}/plugins/decide/`)).body.toString()) as { listen: { port: number }; syslog: { port: number }; leases: number };
  const { listen, syslog } = await endpoint();
  const lease = async (): Promise<string> => {
    const answer = await request(`http://127.0.0.1:${listen.port}/`, { headers: { 'x-original-method': 'PUT', 'x-original-uri': '/a.bin', 'x-original-content-length': '100', 'x-headroom-token': token } });
    t.equal(answer.status, 204);
    return answer.headers['x-headroom-lease'] as string;
  };
  const [kept, ended] = [await lease(), await lease()];
  const socket = dgram.createSocket('udp4');
  t.teardown(() => socket.close());
  const send = (line: string) => new Promise<void>((resolve, reject) => socket.send(`<190>Dec  1 21:00:00 headroom: ${line}`, syslog.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  await send(`lease=${kept} status="201"`);
  await send(`lease=${kept} status="201" token=proxy-secret-0452`);
  await send(`lease=${kept} status="201" token=${token} and more`);
  await send(`lease=${kept.toUpperCase()} status="201" token=${token}`);
  // Datagrams on loopback from one socket arrive in order: once this one has ended its lease, those before were read.
  await send(`lease=${ended} status="502, 201" token=${token}`);
  await until(async () => (await endpoint()).leases === 1, 'the signalled lease to end');
  t.equal(gateway.ledger.totalReservedBytes(), 100, 'the lease the malformed signals named still holds its room');
  await send(`lease=${kept} status="-" token=${token}`);
  await until(async () => (await endpoint()).leases === 0, 'the other lease to end');
  t.equal(gateway.ledger.totalReservedBytes(), 0);
});
