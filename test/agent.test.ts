import t from 'tap';
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
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
  t.equal((await request(`${agent.url}/healthz`)).status, 200);
});
