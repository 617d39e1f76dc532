import t from 'tap';
import { originBehindGateway } from './helpers/gateway.js';
import { request, until } from './helpers/http.js';

// The access line: the fields an access-log reader expects, one naming
// style, level names; and the switch that turns it off (log.access).

t.test('an access line has status, user agent, upstream and upstream time, in camelCase, at level "info"', async (t) => {
  const { origin, gateway } = await originBehindGateway(t);
  await request(`${gateway.url}/a.bin`, { method: 'PUT', headers: { 'content-length': '3', 'user-agent': 'rclone/v1.60.1' } }, 'abc');
  await request(`${gateway.url}/b.bin`, { method: 'PUT', headers: { 'content-length': '3', 'content-range': 'bytes 0-2/9' } }, 'abc'); // refused: never forwarded
  await until(() => gateway.logLines.filter((l) => l.msg === 'access').length === 2, 'two access lines');
  const [put, refused] = gateway.logLines.filter((l) => l.msg === 'access');
  t.match(put, {
    level: 'info',
    method: 'PUT',
    status: 201,
    userAgent: 'rclone/v1.60.1',
    upstream: `127.0.0.1:${new URL(origin.url).port}`,
    upstreamMs: Number,
    durationMs: Number,
    requestId: String,
  });
  t.ok((put!.upstreamMs as number) <= (put!.durationMs as number), 'the upstream time is part of the whole');
  t.match(refused, { status: 400, upstream: null, upstreamMs: null }, 'a request never forwarded has no upstream');
  for (const line of gateway.logLines) {
    t.notOk(Object.keys(line).some((k) => k.includes('_')), `one naming style: ${Object.keys(line).filter((k) => k.includes('_')).join(', ') || 'no snake_case'} (${String(line.msg)})`);
    t.type(line.level, 'string', 'level names, not numbers');
  }
});

t.test('log.access: false writes no access line; the others stay', async (t) => {
  const { gateway } = await originBehindGateway(t, { log: { level: 'info', access: false } });
  await request(`${gateway.url}/a.bin`, { method: 'PUT', headers: { 'content-length': '3' } }, 'abc');
  await request(`${gateway.url}/a.bin`);
  await gateway.shutdown();
  const messages = gateway.logLines.map((l) => l.msg);
  t.notOk(messages.includes('access'), 'no access line');
  t.ok(messages.includes('gateway listening') && messages.includes('connection cap'), 'the other lines are written');
});
