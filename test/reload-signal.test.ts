import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import t, { type Test } from 'tap';
import { request, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';
import { spawnGateway, type GatewayProcess } from './helpers/process.js';

const run = promisify(execFile);
const WRK = '/usr/bin/wrk';

/** `headroom proxy` as a user runs it, in front of one file-storing origin whose directory it reads. */
async function gatewayProcess(t: Test, extra: (url: string, root: string) => Record<string, unknown> = () => ({})) {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const config = (more: Record<string, unknown> = {}) => ({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [origin.root], capacity: '1GiB', interval: '500ms' } } }],
    routes: [{ match: { pathPrefix: '/' }, origin: 'files' }],
    ...extra(origin.url, origin.root),
    ...more,
  });
  const gateway = await spawnGateway(config());
  t.teardown(() => gateway.kill());
  return { origin, gateway, config };
}

const statusOf = async (gateway: GatewayProcess): Promise<{ generation: number; reservedBytes: number }> =>
  JSON.parse((await request(`${gateway.adminUrl}/status`)).body.toString()) as { generation: number; reservedBytes: number };

const messages = (gateway: GatewayProcess): string[] => gateway.lines.map((l) => String(l.msg));

t.test('SIGHUP with a broken file: one log line per problem with its key path, the running generation keeps serving', async (t) => {
  const { gateway, config } = await gatewayProcess(t);
  writeFileSync(gateway.file, YAML.stringify({ ...config(), policy: { reserve: 'lots', retryAfter: 'soon' }, routes: [{ match: { pathPrefix: '/' }, origin: 'nope' }] }));
  gateway.child.kill('SIGHUP');
  await until(() => messages(gateway).includes('reload refused: the running configuration stays'), 'the reload to be refused');
  const refused = messages(gateway).filter((m) => m.startsWith('reload refused: ') && m !== 'reload refused: the running configuration stays');
  t.ok(refused.length >= 2, `one line per problem (${refused.length})`);
  t.ok(refused.some((m) => m.includes('policy.reserve')), 'policy.reserve is named');
  t.ok(refused.some((m) => m.includes('policy.retryAfter')), 'policy.retryAfter is named');
  t.equal((await statusOf(gateway)).generation, 1, '/status shows the running generation');
  t.equal((await request(`${gateway.url}/a.txt`, { method: 'PUT' }, 'a')).status, 201, 'the running configuration serves');
  t.equal(gateway.child.exitCode, null, 'the process lives on');

  writeFileSync(gateway.file, YAML.stringify(config({ policy: { retryAfter: '5s' } })));
  gateway.child.kill('SIGHUP');
  await until(async () => (await statusOf(gateway)).generation === 2, 'generation 2 after a valid file');
  await until(() => gateway.lines.some((l) => l.msg === 'reloaded'), 'the reload’s log line');
  t.same(gateway.lines.find((l) => l.msg === 'reloaded')!.changed, ['policy'], 'the log says what changed');
});

/** wrk's figures from its text report. */
function wrkReport(out: string): { requests: number; socketErrors: string | null; non2xx: number } {
  return {
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    socketErrors: /Socket errors: (.*)/.exec(out)?.[1] ?? null,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

const loadTest = existsSync(WRK) || process.env.CI === 'true';
t.test('a SIGHUP every second for 30 s under GET and 4 KiB PUT load: no failed request, no reset, nothing left reserved', { skip: loadTest ? false : 'wrk is not installed (.ci/run installs it)' }, async (t) => {
  const { origin, gateway, config } = await gatewayProcess(t);
  await writeFile(path.join(origin.root, 'small.bin'), Buffer.alloc(1024, 'g'));
  await mkdir(path.join(origin.root, 'u'));
  await mkdir(path.join(origin.root, 'extra'));
  await until(async () => (await request(`${gateway.url}/small.bin`)).status === 200, 'the gateway serving');

  // Every reload changes something: routes, an origin added or removed, policy.
  const variants = [
    YAML.stringify(config()),
    YAML.stringify(config({
      origins: [...(config().origins as object[]), { name: 'extra', url: origin.url }],
      routes: [{ match: { pathPrefix: '/extra/' }, origin: 'extra' }, ...(config().routes as object[])],
      policy: { retryAfter: '30s' },
    })),
  ];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-wrk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'put.lua');
  writeFileSync(script, `local body = string.rep("p", 4096)
local n = 0
request = function()
  n = n + 1
  return wrk.format("PUT", "/u/" .. (n % 256) .. ".bin", nil, body)
end
`);

  let signals = 0;
  const reloads = setInterval(() => {
    writeFileSync(gateway.file, variants[(signals + 1) % 2]!);
    gateway.child.kill('SIGHUP');
    signals++;
  }, 1000);
  const wrk = (...args: string[]) => run(WRK, ['-t1', '-c32', '-d30s', '--timeout', '10s', ...args], { maxBuffer: 1 << 20 }).then((r) => r.stdout);
  let outputs: string[];
  try {
    outputs = await Promise.all([wrk(`${gateway.url}/small.bin`), wrk('-s', script, `${gateway.url}/`)]);
  } finally {
    clearInterval(reloads);
  }
  const [gets, puts] = outputs.map(wrkReport);
  t.ok(signals >= 28, `${signals} reloads during the load`);
  await until(async () => (await statusOf(gateway)).generation === signals + 1, `generation ${signals + 1}`, 10_000);
  t.notOk(messages(gateway).some((m) => m.startsWith('reload refused')), 'every reload was taken');

  for (const [name, report] of [['GET', gets!], ['PUT', puts!]] as const) {
    t.ok(report.requests > 100, `${name}: ${report.requests} requests`);
    t.equal(report.socketErrors, null, `${name}: no connection reset, error or timeout`);
    t.equal(report.non2xx, 0, `${name}: no failed request`);
  }
  await until(async () => (await statusOf(gateway)).reservedBytes === 0, 'nothing reserved once the load is over');
  t.equal(gateway.child.exitCode, null, 'the gateway is still running');
});
