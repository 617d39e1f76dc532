import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { spawnGateway } from './helpers/process.js';

const CLI = path.resolve(import.meta.dirname, '../dist/src/cli.js');
const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/bad-config');

function headroom(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

t.test('the example config is valid and its secrets are redacted', async (t) => {
  const run = headroom(['check-config', path.resolve(import.meta.dirname, '../config/example.yaml')]);
  t.equal(run.code, 0, run.stderr);
  const effective = YAML.parse(run.stdout) as { origins: Array<{ headroom: { agent: { token: string } | null } }>; policy: { unknownLength: number; staleAfter: number } };
  t.equal(effective.origins[0]!.headroom.agent!.token, '[redacted]');
  t.notMatch(run.stdout, /change-me/, 'the token itself is never printed');
  t.equal(effective.policy.unknownLength, 64 * 1024 * 1024, '64MiB is read as bytes');
  t.equal(effective.policy.staleAfter, 10_000, '10s is read as milliseconds');
});

// Each bad file: exit 1, the problem named by its key path, no stack trace.
const cases: Array<[string, RegExp]> = [
  ['wrong-type.yaml', /^listen\.port: expected a port number between 0 and 65535, got "eighty"$/m],
  ['unknown-key.yaml', /^polcy: unknown key$/m],
  ['unknown-key-in-origin.yaml', /^origins\[0\]\.headroom\.agent\.intervall: unknown key$/m],
  ['unknown-origin.yaml', /^routes\[0\]\.origin: no origin named "filez" \(origins: files\)$/m],
  ['bad-size.yaml', /^policy\.unknownLength: expected a size like .*, got "lots"$/m],
  ['bad-duration.yaml', /^policy\.staleAfter: expected a duration .*, got "soon"$/m],
  ['missing-url.yaml', /^origins\[0\]\.url: missing; this key is required$/m],
  ['bad-url.yaml', /^origins\[1\]\.url: expected an http\(s\) URL, got "ftp:\/\/x"$/m],
  ['duplicate-origin.yaml', /^origins\[1\]\.name: "files" is already the name of origins\[0\]$/m],
  ['flood-release.yaml', /^policy\.floodRelease: must be below policy\.floodStage \(90%\), got 95%$/m],
  ['reserve-over-100.yaml', /^policy\.reserve: expected a share between 0% and 100%, got "120%"$/m],
  ['malformed.yaml', /malformed\.yaml:4:1: malformed YAML: /m],
  ['malformed.json', /malformed\.json:3:1: malformed JSON: /m],
  ['bad-enum.yaml', /^policy\.onUnknown: must be one of the possible values: \["admit","reject"\], got "maybe"$/m],
  ['route-volume.yaml', /^routes\[0\]\.volume: origin "files" has 2 volumes/m],
  ['route-match.yaml', /^routes\[0\]\.match\.pathPrefix: "\/%7Euser\/" is matched as requests are, normalised; write it as "\/~user\/"$\n^routes\[1\]\.match\.pathPrefix: .* write it as "\/b\/"$\n^routes\[2\]\.match\.host: expected a host name or address/m],
  ['agent-route-volume.yaml', /^routes\[0\]\.volume: origin "files" is measured by an agent; name the volume/m],
  ['not-a-list.yaml', /^origins: expected a list, got \{/m],
  ['bad-prefix.yaml', /^routes\[0\]\.match\.pathPrefix: expected a path starting with "\/", got "dav"$/m],
  ['empty.yaml', /^origins: at least one origin is needed$/m],
  ['health-expect.yaml', /^origins\[0\]\.headroom\.health\.expect: expected a list of HTTP statuses or ranges, like \[200-399, 401\]/m],
  ['redis-no-url.yaml', /^ledger\.url: the redis backend needs the Redis URL, like redis:\/\/127\.0\.0\.1:6379\/0/m],
  ['redis-bad-url.yaml', /^ledger\.url: expected a Redis URL like redis:\/\/host:6379\/0 or rediss:\/\/user:password@host:6380$/m],
  ['redis-sentinel.yaml', /^ledger\.sentinel\.addresses\[0\]: expected host:port, got "10\.0\.0\.6"$/m],
];
for (const [file, expected] of cases) {
  t.test(`check-config refuses ${file}`, async (t) => {
    const run = headroom(['check-config', path.join(FIXTURES, file)]);
    t.equal(run.code, 1);
    t.match(run.stderr, expected);
    t.notMatch(run.stderr, /^\s+at /m, 'no stack trace');
    t.equal(run.stdout, '', 'no effective config is printed');
  });
}

t.test('a missing file is one clear line', async (t) => {
  const run = headroom(['check-config', '/nonexistent/headroom.yaml']);
  t.equal(run.code, 1);
  t.equal(run.stderr, '/nonexistent/headroom.yaml: cannot read the file (ENOENT)\n');
});

t.test('policy.reserve as a bare number of bytes, as YAML writes it, is a size', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'gateway.yaml');
  writeFileSync(file, 'origins: [{ name: files, url: "http://127.0.0.1:8000" }]\nroutes: [{ origin: files }]\npolicy: { reserve: 1048576 }\n');
  const run = headroom(['check-config', file]);
  t.equal(run.code, 0, run.stderr);
  t.same((YAML.parse(run.stdout) as { policy: { reserve: unknown } }).policy.reserve, { bytes: 1048576 }, 'bytes, not a share merged with the default');
});

t.test('flags override the environment, which overrides the file; JSON files work', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify({
    listen: { port: 9000 },
    origins: [{ name: 'files', url: 'http://127.0.0.1:8000', headroom: { local: { paths: ['./data'], capacity: '32MiB' } } }],
    routes: [{ origin: 'files', volume: './data' }],
  }));
  const port = (run: { stdout: string }) => (YAML.parse(run.stdout) as { listen: { port: number } }).listen.port;
  t.equal(port(headroom(['check-config', file])), 9000);
  t.equal(port(headroom(['check-config', file], { HEADROOM_LISTEN_PORT: '7000' })), 7000);
  t.equal(port(headroom(['check-config', file, '--listen.port', '7100'], { HEADROOM_LISTEN_PORT: '7000' })), 7100);
  const effective = YAML.parse(headroom(['check-config', file]).stdout) as { origins: Array<{ headroom: { local: { paths: string[]; capacity: number } } }>; routes: Array<{ volume: string }> };
  t.same(effective.origins[0]!.headroom.local.paths, [path.join(dir, 'data')], 'relative paths resolve against the file’s directory');
  t.equal(effective.routes[0]!.volume, path.join(dir, 'data'), 'a route’s volume resolves the same way');
  t.equal(effective.origins[0]!.headroom.local.capacity, 32 * 1024 * 1024);

  const env = headroom(['check-config', file], { HEADROOM_POLICY_RESERVE: 'lots' });
  t.equal(env.code, 1);
  t.match(env.stderr, /^policy\.reserve: expected a size .*, got "lots"$/m, 'a bad environment value names its key');
  const typo = headroom(['check-config', file, '--policy.onUnkown', 'reject']);
  t.equal(typo.code, 2);
  t.match(typo.stderr, /unknown option --policy\.onUnkown/);
});

t.test('five independent problems: one run names all five, and nothing else', async (t) => {
  const run = headroom(['check-config', path.join(FIXTURES, 'five-problems.yaml')]);
  t.equal(run.code, 1);
  t.same(run.stderr.trimEnd().split('\n'), [
    'listen.port: expected a port number between 0 and 65535, got "eighty"',
    'origins[1].url: expected an http(s) URL, got "ftp://x"',
    'routes[0].origin: no origin named "filez" (origins: files, more)',
    'routes[1].match.pathPrefix: "/a/../b/" is matched as requests are, normalised; write it as "/b/"',
    'policy.floodRelease: must be below policy.floodStage (90%), got 95%',
  ], 'a route to the broken origin is not a sixth problem');
});

t.test('a key with a problem of its own is left out of the rules across keys (no crash, no second line)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'gateway.yaml');
  writeFileSync(file, YAML.stringify({
    origins: [{ name: 'files', url: 'http://127.0.0.1:8000', headroom: { local: { paths: ['/srv'], capacity: 'huge' } } }],
    routes: [{ origin: 'files', volume: '/srv' }],
    policy: { reserve: 'lots', floodStage: 'high', writeMethods: 'PUT,post' },
    ledger: { backend: 'redis', url: 'http://nope' },
  }));
  const run = headroom(['check-config', file]);
  t.equal(run.code, 1);
  t.notMatch(run.stderr, /TypeError|^\s+at /m, 'no crash');
  const lines = run.stderr.trimEnd().split('\n');
  t.same(lines.map((l) => l.split(':')[0]).sort(), ['ledger.url', 'origins[0].headroom.local.capacity', 'policy.floodStage', 'policy.reserve', 'policy.writeMethods[1]'].sort(), lines.join('\n'));
});

t.test('check-config | head: a reader that has left ends it quietly, exit 0', async (t) => {
  const run = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" check-config "${path.resolve(import.meta.dirname, '../config/example.yaml')}" 2>/tmp/headroom-epipe-${process.pid}.err | true; echo "rc=$?"; cat /tmp/headroom-epipe-${process.pid}.err; rm -f /tmp/headroom-epipe-${process.pid}.err`], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  t.match(run.stdout, /^rc=0$/m, 'exit 0');
  t.notMatch(run.stdout, /EPIPE|^\s+at /m, 'no stack trace');
});

t.test('valid but probably not meant: placeholder tokens and an open admin listener are warned about, and still valid', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const example = headroom(['check-config', path.resolve(import.meta.dirname, '../config/example.yaml')]);
  t.equal(example.code, 0);
  t.match(example.stderr, /^warning: origins\[0\]\.headroom\.agent\.token: "change-me" looks like a placeholder/m);
  const open = path.join(dir, 'open.yaml');
  writeFileSync(open, YAML.stringify({ admin: { host: '0.0.0.0' }, origins: [{ name: 'files', url: 'http://127.0.0.1:8000' }], routes: [{ origin: 'files' }] }));
  const gateway = headroom(['check-config', open]);
  t.equal(gateway.code, 0);
  t.match(gateway.stderr, /^warning: admin\.token: empty while the admin listener is on 0\.0\.0\.0/m);
  const quiet = headroom(['check-config', open, '--admin.host', '127.0.0.1', '--admin.token', 'a-long-random-secret-1f9c']);
  t.equal(quiet.stderr, '', 'no warning for a loopback admin with a real token');
  const agent = path.join(dir, 'agent.yaml');
  writeFileSync(agent, YAML.stringify({ listen: { host: '0.0.0.0', port: 9100 }, token: 'CHANGEME' }));
  const agentRun = headroom(['check-config', agent]);
  t.equal(agentRun.code, 0);
  t.match(agentRun.stderr, /^warning: token: "CHANGEME" looks like a placeholder/m);
});

t.test('the gateway says the same warnings in its log at start', async (t) => {
  const gateway = await spawnGateway({ listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0, token: 'change-me' }, origins: [{ name: 'files', url: 'http://127.0.0.1:9' }], routes: [{ origin: 'files' }] });
  t.teardown(() => gateway.kill());
  t.ok(gateway.lines.some((l) => l.level === 'warn' && l.key === 'admin.token' && /looks like a placeholder/.test(String(l.msg))), 'a warn line names the key');
});
