import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentFor } from './helpers/agent.js';
import { request, until } from './helpers/http.js';
import { parseUsageAnswer } from '../plugins/tenant-quota/agent-usage.js';

// The agent's GET /v1/usage: a directory per tenant under each configured
// root, walked by the agent in rounds; and how the tenant-quota plugin
// reads such an answer (strictly: it comes from another host).

interface Directory {
  name: string;
  path: string;
  bytes: number | null;
  files: number | null;
  measuredAt: string;
  error: string | null;
}
interface Answer {
  host: string;
  time: string;
  roots: Array<{ root: string; listedAt: string | null; error: string | null; directories: Directory[] }>;
}

function tenantsDir(t: Test): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-usage-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'a', 'deep'), { recursive: true });
  mkdirSync(path.join(dir, 'b'));
  writeFileSync(path.join(dir, 'a', 'one.bin'), Buffer.alloc(1000));
  writeFileSync(path.join(dir, 'a', 'deep', 'two.bin'), Buffer.alloc(234));
  writeFileSync(path.join(dir, 'loose.bin'), Buffer.alloc(5000));
  symlinkSync(path.join(dir, 'loose.bin'), path.join(dir, 'a', 'link'));
  symlinkSync(dir, path.join(dir, 'a', 'deep', 'loop'));
  return dir;
}

const usage = async (url: string, token = 's3cret'): Promise<Answer> => {
  const reply = await request(`${url}/v1/usage`, { headers: { authorization: `Bearer ${token}` } });
  if (reply.status !== 200) throw new Error(`HTTP ${reply.status}: ${reply.body.toString()}`);
  return JSON.parse(reply.body.toString()) as Answer;
};

t.test('GET /v1/usage: bytes and files of each directory under a root, links not followed; a missing root is an error; the same token as /v1/volumes', async (t) => {
  const dir = tenantsDir(t);
  const missing = path.join(dir, 'no-such-root');
  const agent = await agentFor(t, [dir], 's3cret', { roots: [dir, missing], interval: '1h' });
  t.equal((await request(`${agent.url}/v1/usage`)).status, 401, 'no token: 401');
  t.equal((await request(`${agent.url}/v1/usage`, { headers: { authorization: 'Bearer wrong' } })).status, 401, 'a wrong token: 401');
  await until(async () => (await usage(agent.url)).roots.every((r) => r.listedAt !== null), 'the first round');
  const answer = await usage(agent.url);
  t.match(answer, { host: os.hostname(), time: String });
  const [root, gone] = answer.roots;
  t.match(root, { root: dir, error: null });
  t.match(root!.directories, [
    { name: 'a', path: path.join(dir, 'a'), bytes: 1234, files: 2, error: null },
    { name: 'b', path: path.join(dir, 'b'), bytes: 0, files: 0, error: null },
  ]);
  t.equal(root!.directories.length, 2, 'only directories are reported (loose.bin is not)');
  for (const d of root!.directories) t.ok(Date.parse(d.measuredAt) <= Date.parse(answer.time), `${d.name}: measured before the answer`);
  t.match(gone, { root: missing, error: /ENOENT/, directories: [] }, 'a root that is not there says so');
});

t.test('a request never starts a walk: figures change with the next round only', async (t) => {
  const dir = tenantsDir(t);
  const slow = await agentFor(t, [], 's3cret', { roots: [dir], interval: '1h' });
  await until(async () => (await usage(slow.url)).roots[0]!.listedAt !== null, 'the first round');
  const first = (await usage(slow.url)).roots[0]!;
  writeFileSync(path.join(dir, 'a', 'three.bin'), Buffer.alloc(766));
  const again = (await usage(slow.url)).roots[0]!;
  t.same(again, first, 'asked again before the next round: the same figures, the same measuredAt');

  const quick = await agentFor(t, [], 's3cret', { roots: [dir], interval: '50ms' });
  await until(async () => (await usage(quick.url)).roots[0]!.directories.find((d) => d.name === 'a')?.bytes === 2000, 'a round after the file was added');
  writeFileSync(path.join(dir, 'a', 'four.bin'), Buffer.alloc(1000));
  await until(async () => (await usage(quick.url)).roots[0]!.directories.find((d) => d.name === 'a')?.files === 4, 'the next round');
});

const NOW = '2026-12-01T10:00:00.000Z';
const BEFORE = '2026-12-01T09:59:59.000Z';
const answerWith = (directories: unknown[], extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ host: 'store-1', time: NOW, roots: [{ root: '/srv/dav', listedAt: BEFORE, error: null, directories }], ...extra });
const dir = (fields: Record<string, unknown>) => ({ name: 'a', path: '/srv/dav/a', bytes: 100, files: 1, measuredAt: BEFORE, error: null, ...fields });

t.test('the plugin reads an answer strictly: every figure a non-negative integer, dates that are dates, each name once', async (t) => {
  const good = parseUsageAnswer(answerWith([dir({}), dir({ name: 'b', bytes: 0, files: 0 })]), '/srv/dav');
  t.same(good, { ok: true, time: Date.parse(NOW), tenants: new Map([['a', { bytes: 100, measuredAt: Date.parse(BEFORE) }], ['b', { bytes: 0, measuredAt: Date.parse(BEFORE) }]]) });

  const refused: Array<[string, string, RegExp]> = [
    ['a figure as text', answerWith([dir({ bytes: '100' })]), /directories\[0\]\.bytes: expected a non-negative integer, got "100"/],
    ['a negative figure', answerWith([dir({ bytes: -1 })]), /bytes: expected a non-negative integer, got -1/],
    ['a fraction', answerWith([dir({ files: 1.5 })]), /files: expected a non-negative integer, got 1\.5/],
    ['beyond exact integers', answerWith([dir({ bytes: 2 ** 60 })]), /bytes: expected a non-negative integer/],
    ['infinite (1e400)', answerWith([dir({})]).replace('"bytes":100', '"bytes":1e400'), /bytes: expected a non-negative integer/],
    ['no figure and no error', answerWith([dir({ bytes: null })]), /bytes: expected a non-negative integer, got null/],
    ['a missing figure', answerWith([{ name: 'a', measuredAt: BEFORE }]), /bytes: expected a non-negative integer, got nothing/],
    ['measuredAt not a date', answerWith([dir({ measuredAt: 'yesterday' })]), /measuredAt: expected an ISO 8601 date, got "yesterday"/],
    ['measuredAt after the answer', answerWith([dir({ measuredAt: '2026-12-01T10:00:01.000Z' })]), /measuredAt: .* is after the answer’s time/],
    ['the same name twice', answerWith([dir({}), dir({})]), /directories\[1\]\.name: "a" is reported twice/],
    ['no time', answerWith([dir({})], { time: undefined }), /^time: expected an ISO 8601 date, got undefined/],
    ['not JSON', '<html>oops</html>', /^not JSON/],
    ['no roots list', '{"volumes": []}', /expected an object with a "roots" list/],
    ['the root twice', JSON.stringify({ time: NOW, roots: [{ root: '/srv/dav', directories: [] }, { root: '/srv/dav', directories: [] }] }), /roots\[1\]\.root: "\/srv\/dav" is already roots\[0\]/],
    ['another root only', JSON.stringify({ time: NOW, roots: [{ root: '/srv/other', directories: [] }] }), /root "\/srv\/dav" is not in the agent’s answer/],
    ['the root cannot be listed', JSON.stringify({ time: NOW, roots: [{ root: '/srv/dav', error: 'EACCES: permission denied', directories: [] }] }), /the agent cannot list the root: EACCES/],
  ];
  for (const [what, text, error] of refused) {
    const answer = parseUsageAnswer(text, '/srv/dav');
    t.equal(answer.ok, false, `${what}: the whole answer is refused`);
    if (!answer.ok) t.match(answer.error, error, `${what}: says why`);
  }

  const partial = parseUsageAnswer(answerWith([dir({ bytes: null, files: null, error: 'EACCES: permission denied' }), dir({ name: '..' }), dir({ name: 'b' })]), '/srv/dav');
  t.same(partial.ok && [...partial.tenants.keys()], ['b'], 'a directory the agent could not measure, or whose name cannot be a tenant’s, gives no figures; the rest are used');
});
