import t from 'tap';
import { configFor, startTestGateway } from './helpers/gateway.js';
import { request } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';
import type { Step } from '../src/exchange/step.js';

t.test('a step that throws, or whose promise rejects, gets a 500 and the gateway goes on', async (t) => {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const failing: Step = (exchange) => {
    if (exchange.path === '/sync') throw new Error('thrown');
    if (exchange.path === '/async') return Promise.reject(new Error('rejected'));
    return undefined;
  };
  const gateway = await startTestGateway(configFor(origin.url, { log: { level: 'silent' } }), [failing]);
  t.teardown(() => gateway.shutdown());
  for (const path of ['/sync', '/async']) {
    const reply = await request(`${gateway.url}${path}`);
    t.equal(reply.status, 500, `${path}: 500`);
    t.match(JSON.parse(reply.body.toString()), { error: 'internal_error' });
  }
  t.equal(origin.stats.requests, 0, 'neither was forwarded');
  t.equal((await request(`${gateway.url}/fine`)).status, 404, 'the next request is served (the origin has no /fine)');
});
