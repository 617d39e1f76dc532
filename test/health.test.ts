import t from 'tap';
import { gatewayFor } from './helpers/gateway.js';
import { request, serve, until } from './helpers/http.js';

t.test('an origin failing its checks is marked down after `fall`, answered 503 without a connection attempt, and up again after `rise`', async (t) => {
  let mode: 'up' | 'down' = 'up';
  let userRequests = 0;
  let healthPolls = 0;
  const url = await serve(t, (req, res) => {
    if (req.url === '/healthz') {
      healthPolls++;
      if (mode === 'down') return void req.socket.destroy();
      return void res.end('ok');
    }
    userRequests++;
    if (mode === 'down') return void req.socket.destroy();
    req.resume();
    req.on('end', () => {
      res.writeHead(201, { 'content-length': '0' });
      res.end();
    });
  });
  const gateway = await gatewayFor(t, url, {
    origins: [{ name: 'files', url, headroom: { health: { path: '/healthz', interval: '100ms', timeout: '200ms', rise: 2, fall: 3 } } }],
  });
  const healthy = async () => (JSON.parse((await request(`http://127.0.0.1:${gateway.adminAddress.port}/status`)).body.toString()) as { origins: Array<{ healthy: boolean | null }> }).origins[0]!.healthy;
  await until(async () => (await healthy()) === true, 'the origin to be up');
  t.equal((await request(`${gateway.url}/a`, { method: 'PUT', headers: { 'content-length': '1' } }, 'x')).status, 201);

  mode = 'down';
  const pollsAtDown = healthPolls;
  await until(async () => (await healthy()) === false, 'the origin to be marked down');
  t.ok(healthPolls - pollsAtDown >= 3, `marked down after ${healthPolls - pollsAtDown} failed polls (fall: 3)`);
  const before = userRequests;
  for (let i = 0; i < 5; i++) {
    const reply = await request(`${gateway.url}/b`, { method: 'PUT', headers: { 'content-length': '1' } }, 'x');
    t.equal(reply.status, 503);
    t.equal(reply.headers['retry-after'], '1', 'Retry-After: interval × rise, rounded up');
    t.match(JSON.parse(reply.body.toString()), { error: 'origin_unavailable', origin: 'files' });
  }
  t.equal(userRequests, before, 'no request reached the origin’s port while it was down');

  mode = 'up';
  const pollsAtUp = healthPolls;
  await until(async () => (await healthy()) === true, 'the origin to be up again');
  t.ok(healthPolls - pollsAtUp >= 2, `up after ${healthPolls - pollsAtUp} good polls (rise: 2)`);
  t.equal((await request(`${gateway.url}/c`, { method: 'PUT', headers: { 'content-length': '1' } }, 'x')).status, 201);
});

t.test('health.expect: a WebDAV root behind auth answers 401 — down by default, up when 401 is expected', async (t) => {
  const url = await serve(t, (req, res) => {
    res.writeHead(req.url === '/' ? 401 : 200, { 'www-authenticate': 'Basic realm="dav"', 'content-length': '0' });
    res.end();
  });
  const health = (expect?: unknown[]) => ({ path: '/', interval: '50ms', timeout: '200ms', rise: 1, fall: 1, ...(expect ? { expect } : {}) });
  const strict = await gatewayFor(t, url, { origins: [{ name: 'files', url, headroom: { health: health() } }] });
  const lenient = await gatewayFor(t, url, { origins: [{ name: 'files', url, headroom: { health: health(['200-399', 401]) } }] });
  const healthyOf = async (g: typeof strict) => (JSON.parse((await request(`http://127.0.0.1:${g.adminAddress.port}/status`)).body.toString()) as { origins: Array<{ healthy: boolean | null; lastHealthError: string | null }> }).origins[0]!;
  await until(async () => (await healthyOf(strict)).healthy === false, 'the default to mark a 401 down');
  t.equal((await healthyOf(strict)).lastHealthError, 'HTTP 401');
  await until(async () => (await healthyOf(lenient)).healthy === true, 'expect: [200-399, 401] to count it up');
});
