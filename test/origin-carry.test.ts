import t from 'tap';
import { createOrigin } from '../src/exchange/origin.js';
import { configFor } from './helpers/gateway.js';

const originConfig = (url: string, more: Record<string, unknown> = {}) =>
  configFor(url, { origins: [{ name: 'files', url, headroom: { health: { path: '/healthz' } }, ...more }] }).origins[0]!;

t.test('a reloaded origin keeps its pool and health only while what made them is unchanged', async (t) => {
  const first = createOrigin(originConfig('http://127.0.0.1:8000'));
  t.teardown(() => first.agent.destroy());
  first.health!.failure('down');
  const same = createOrigin(originConfig('http://127.0.0.1:8000', { timeout: '5s' }), first);
  t.equal(same.agent, first.agent, 'another timeout: the same connection pool');
  t.equal(same.health, first.health, 'and the same health state');
  const capped = createOrigin(originConfig('http://127.0.0.1:8000', { maxSockets: 4 }), first);
  t.teardown(() => capped.agent.destroy());
  t.not(capped.agent, first.agent, 'another cap: a new pool');
  const moved = createOrigin(originConfig('http://127.0.0.1:8001'), first);
  t.teardown(() => moved.agent.destroy());
  t.not(moved.agent, first.agent, 'another address: a new pool');
  t.not(moved.health, first.health, 'and fresh health: a failure at the old address says nothing of the new one');
  t.equal(moved.health!.healthy, null);
});
