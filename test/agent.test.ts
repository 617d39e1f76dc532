import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { startAgent } from '../src/agent/agent-server.js';
import { loadAgentConfig } from '../src/config/agent-config.js';
import { createLogger } from '../src/log/log.js';
import { agentFor } from './helpers/agent.js';
import { request } from './helpers/http.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

interface Answer {
  host: string;
  time: string;
  volumes: Array<{ mount: string; filesystem: string; totalBytes: number; freeBytes: number; availableBytes: number; totalInodes: number; freeInodes: number }>;
}

withTmpfs(t, 'the agent reports a 16 MiB tmpfs exactly as statfs and df do', async (t) => {
  const volume = mountTmpfs(t, 'size=16m,nr_inodes=1000');
  const agent = await agentFor(t, [volume]);
  const reply = await request(`${agent.url}/v1/volumes`);
  t.equal(reply.status, 200);
  const answer = JSON.parse(reply.body.toString()) as Answer;
  t.type(answer.host, 'string');
  t.ok(!Number.isNaN(Date.parse(answer.time)), 'time is an ISO date');
  const s = statfsSync(volume);
  t.match(answer.volumes, [{
    mount: volume,
    filesystem: 'tmpfs',
    totalBytes: 16 * 1024 * 1024,
    availableBytes: s.bavail * s.bsize,
    freeBytes: s.bfree * s.bsize,
    totalInodes: 1000,
    freeInodes: s.ffree,
  }]);
  const df = execFileSync('df', ['-B1', '--output=size,avail', volume], { encoding: 'utf8' }).trim().split('\n')[1]!.trim().split(/\s+/).map(Number);
  t.equal(answer.volumes[0]!.totalBytes, df[0], 'total equals df -B1');
  t.equal(answer.volumes[0]!.availableBytes, df[1], 'available equals df -B1');
});

t.test('with no paths the agent lists every real mount, and no pseudo filesystems', async (t) => {
  const agent = await agentFor(t, []);
  const answer = JSON.parse((await request(`${agent.url}/v1/volumes`)).body.toString()) as Answer;
  const real = execFileSync('df', ['-P'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(/\s+/))
    .filter(([fs]) => fs!.startsWith('/') || fs!.includes(':'))
    .map((cols) => cols.at(-1));
  t.ok(real.length > 0, `df lists real mounts (${real.join(', ')})`);
  t.same(answer.volumes.map((v) => v.mount).sort(), real.sort());
  t.notOk(answer.volumes.some((v) => v.filesystem === 'tmpfs' || v.filesystem === 'devtmpfs'));
});

t.test('the agent’s token: none → 401, wrong → 401, right → 200; /healthz needs none', async (t) => {
  const agent = await agentFor(t, ['/'], 's3cret');
  t.equal((await request(`${agent.url}/v1/volumes`)).status, 401);
  t.equal((await request(`${agent.url}/v1/volumes`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  t.equal((await request(`${agent.url}/v1/volumes`, { headers: { authorization: 'Basic czNjcmV0' } })).status, 401);
  t.equal((await request(`${agent.url}/v1/volumes`, { headers: { authorization: 'Bearer s3cret' } })).status, 200);
  for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
    t.equal((await request(`${agent.url}/v1/volumes`, { headers: { authorization: `${scheme} s3cret` } })).status, 200, `the scheme is case-insensitive: ${scheme}`);
  }
  t.equal((await request(`${agent.url}/v1/volumes`, { headers: { authorization: 'Bearers3cret' } })).status, 401, 'no space after the scheme: 401');
  t.equal((await request(`${agent.url}/healthz`)).status, 200);
});

/** An agent started from `values` (port 0 unless given), its log lines collected. */
async function agentLogging(t: Test, values: Record<string, unknown>): Promise<{ address: AddressInfo; lines: Array<Record<string, unknown>> }> {
  const loaded = loadAgentConfig({ file: null, env: {}, values: { ...values, listen: { port: 0, ...(values.listen as object) } } });
  if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const agent = await startAgent(loaded.config, createLogger('info', sink));
  t.teardown(() => agent.close());
  return { address: agent.address, lines };
}

const openWarning = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l.level === 'warn' && /without a token on a non-loopback address/.test(String(l.msg)));

t.test('the agent listens on loopback unless configured otherwise; open without a token, it warns once at start', async (t) => {
  const defaults = loadAgentConfig({ file: null, env: {}, values: {} });
  t.ok(defaults.ok && defaults.config.listen.host === '127.0.0.1', 'listen.host defaults to 127.0.0.1');

  const byDefault = await agentLogging(t, {});
  t.equal(byDefault.address.address, '127.0.0.1', 'bound to loopback by default');
  t.equal(openWarning(byDefault.lines).length, 0, 'no warning on loopback without a token');
  t.ok(byDefault.lines.some((l) => l.msg === 'agent listening'), 'the start was logged');

  const open = await agentLogging(t, { listen: { host: '0.0.0.0' } });
  t.equal(open.address.address, '0.0.0.0');
  t.equal(openWarning(open.lines).length, 1, 'on every address without a token: one warning');
  t.match(openWarning(open.lines)[0], { host: '0.0.0.0', port: open.address.port, msg: /set `token`/ });
  t.equal((await request(`http://127.0.0.1:${open.address.port}/v1/volumes`)).status, 200, 'and it still serves');

  const withToken = await agentLogging(t, { listen: { host: '0.0.0.0' }, token: 's3cret' });
  t.equal(openWarning(withToken.lines).length, 0, 'with a token: no warning');
});

withTmpfs(t, 'the agent’s /metrics: its volumes as measured when scraped, and its answers by outcome — behind the same token', async (t) => {
  const volume = mountTmpfs(t, 'size=16m,nr_inodes=1000');
  const agent = await agentFor(t, [volume], 's3cret-token-for-the-agent');
  t.equal((await request(`${agent.url}/metrics`)).status, 401, '/metrics tells what /v1/volumes does: the token is needed');
  const auth = { authorization: 'Bearer s3cret-token-for-the-agent' };
  t.equal((await request(`${agent.url}/v1/volumes`, { headers: auth })).status, 200);
  t.equal((await request(`${agent.url}/v1/volumes`)).status, 401);
  const text = (await request(`${agent.url}/metrics`, { headers: auth })).body.toString();
  const s = statfsSync(volume);
  const value = (name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)`, 'm').exec(text)?.[1]);
  t.equal(value('headroom_agent_volume_total_bytes', `volume="${volume}"`), 16 * 1024 * 1024);
  t.equal(value('headroom_agent_volume_available_bytes', `volume="${volume}"`), s.bavail * s.bsize);
  t.equal(value('headroom_agent_volume_free_inodes', `volume="${volume}"`), s.ffree);
  t.equal(value('headroom_agent_reports_total', 'outcome="ok"'), 1);
  t.equal(value('headroom_agent_reports_total', 'outcome="unauthorized"'), 1);
});
