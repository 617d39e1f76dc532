import t from 'tap';
import type { Constraint } from '../src/exchange/constraint.js';
import { configFor, startTestGateway } from './helpers/gateway.js';
import { request } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';

t.test('a constraint after the guard refuses with its own error code: the client gets it, logs and metrics say which constraint and why', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const quota: Constraint = {
    name: 'test-quota',
    admit: (exchange) =>
      exchange.path.startsWith('/over/')
        ? { status: 507, error: 'storage_quota_exceeded', detail: 'over the test quota', suggestedAction: 'delete something', members: { quota_used: 10, quota_total: 10 } }
        : undefined,
  };
  const gateway = await startTestGateway(configFor(origin.url, { log: { level: 'info' } }), { constraints: [quota] });
  t.teardown(() => gateway.shutdown());
  const requestsBefore = origin.stats.requests;
  const refused = await request(`${gateway.url}/over/a.txt`, { method: 'PUT', headers: { accept: 'application/json' } }, 'a');
  t.equal(refused.status, 507);
  t.match(JSON.parse(refused.body.toString()), { error: 'storage_quota_exceeded', quota_used: 10, quota_total: 10 });
  t.equal(origin.stats.requests, requestsBefore, 'nothing reached the origin');
  t.equal((await request(`${gateway.url}/fine.txt`, { method: 'PUT' }, 'b')).status, 201, 'what the constraint lets through is written');
  await gateway.shutdown(); // flushes the log
  const access = gateway.logLines.filter((l) => l.msg === 'access');
  t.match(access.find((l) => l.path === '/over/a.txt'), { status: 507, decision: 'reject', reason: 'storage_quota_exceeded', constraint: 'test-quota' }, 'the access line names the constraint and its code');
  t.match(access.find((l) => l.path === '/fine.txt'), { status: 201, decision: 'admit_unknown', reason: 'stale' }, 'the guard’s own decision otherwise (this origin reports no figures)');
});
