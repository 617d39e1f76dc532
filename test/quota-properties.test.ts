import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, statfsSync, writeFileSync, mkdirSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { request, serve, until, type Reply } from './helpers/http.js';
import { apacheInstalled, startApache, type Apache } from './helpers/apache.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// RFC 4331 quota properties in PROPFIND answers: Apache mod_dav on a real
// tmpfs answers them 404; through the gateway they carry its figures.

const MiB = 1024 * 1024;
const RESERVE = MiB;

const QUOTA_PROPFIND = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>`;
const OTHER_PROPFIND = `<?xml version="1.0" encoding="utf-8"?>
<propfind xmlns="DAV:"><prop><resourcetype/><getcontentlength/><displayname/></prop></propfind>`;
const ALLPROP = `<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><allprop/></propfind>`;

const propfind = (url: string, body: string, depth: '0' | '1'): Promise<Reply> =>
  request(url, { method: 'PROPFIND', headers: { depth, 'content-type': 'application/xml; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) } }, body);

interface Stack {
  readonly volume: string;
  readonly apache: Apache;
  readonly gateway: RunningGateway;
}

async function stack(t: Test): Promise<Stack> {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
  mkdirSync(path.join(volume, 'dir'));
  writeFileSync(path.join(volume, 'dir', 'a.bin'), Buffer.alloc(3 * MiB, 1));
  writeFileSync(path.join(volume, 'dir', 'b.txt'), 'b');
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  const gateway = await gatewayFor(t, apache.url, {
    origins: [{ name: 'dav', url: apache.url, headroom: { local: { paths: [volume], interval: '100ms' } } }],
    routes: [{ origin: 'dav' }],
    policy: { reserve: '1MiB' },
  });
  const after = Date.now();
  await until(() => (gateway.registry.get('dav', volume)?.snapshot?.takenAt ?? 0) > after, 'a snapshot after the files were written');
  return { volume, apache, gateway };
}

/** Each response's quota properties, by the status of the propstat they are in. */
function quotaOf(body: string): Array<{ href: string; ok: Record<string, string>; missing: string[] }> {
  return [...body.matchAll(/<D:response\b[^>]*>([\s\S]*?)<\/D:response>/g)].map(([, response]) => {
    const href = /<D:href>([^<]*)<\/D:href>/.exec(response!)![1]!;
    const ok: Record<string, string> = {};
    const missing: string[] = [];
    for (const [, propstat] of response!.matchAll(/<D:propstat>([\s\S]*?)<\/D:propstat>/g)) {
      const status = /<D:status>HTTP\/1\.1 (\d+)/.exec(propstat!)![1];
      for (const [, name, value] of propstat!.matchAll(/<(?:\w+:)?(quota-(?:available|used)-bytes)(?:\s[^>]*)?(?:\/>|>([^<]*)<\/(?:\w+:)?quota-(?:available|used)-bytes>)/g)) {
        if (status === '200') ok[name!] = value!;
        else missing.push(name!);
      }
    }
    return { href, ok, missing };
  });
}

withTmpfs(t, 'a PROPFIND asking for the quota properties gets the gateway figures, Depth 0 and 1', async (t) => {
  const { volume, apache, gateway } = await stack(t);

  const direct = await propfind(`${apache.url}/dir/`, QUOTA_PROPFIND, '1');
  t.equal(direct.status, 207);
  t.same(quotaOf(direct.body.toString()).map((r) => r.missing.sort()), [
    ['quota-available-bytes', 'quota-used-bytes'],
    ['quota-available-bytes', 'quota-used-bytes'],
    ['quota-available-bytes', 'quota-used-bytes'],
  ], 'Apache alone answers both 404 for each resource');

  for (const depth of ['0', '1'] as const) {
    const answer = await propfind(`${gateway.url}/dir/`, QUOTA_PROPFIND, depth);
    const s = statfsSync(volume);
    const available = String(s.bavail * s.bsize - RESERVE);
    const used = String((s.blocks - s.bavail) * s.bsize);
    t.equal(answer.status, 207, `Depth ${depth}`);
    t.equal(answer.headers['content-length'], undefined, 'the changed body has no length');
    t.equal(answer.headers['transfer-encoding'], 'chunked');
    const responses = quotaOf(answer.body.toString());
    t.equal(responses.length, depth === '0' ? 1 : 3);
    for (const r of responses) {
      t.same(r.ok, { 'quota-available-bytes': available, 'quota-used-bytes': used }, `${r.href}: statfs's room less the reserve, and what is used`);
      t.same(r.missing, [], `${r.href}: no quota property left in a 404 propstat`);
    }
    t.ok(Number(used) >= 3 * MiB, `used ${used} counts the 3 MiB file`);
    t.match(answer.body.toString(), /<lp1:resourcetype><D:collection\/><\/lp1:resourcetype>/, 'the other properties stay as Apache wrote them');
  }
});

withTmpfs(t, 'a PROPFIND for other properties, or allprop, is byte for byte what Apache answers', async (t) => {
  const { apache, gateway } = await stack(t);
  for (const [body, what] of [[OTHER_PROPFIND, 'named properties'], [ALLPROP, 'allprop']] as const) {
    for (const depth of ['0', '1'] as const) {
      const direct = await propfind(`${apache.url}/dir/`, body, depth);
      const through = await propfind(`${gateway.url}/dir/`, body, depth);
      t.equal(through.status, 207);
      t.ok(through.body.equals(direct.body), `${what}, Depth ${depth}: the same bytes`);
      t.equal(through.headers['content-length'], direct.headers['content-length'], 'and the same length');
      t.notMatch(through.body.toString(), /quota-/, 'allprop does not include the quota properties');
    }
  }
});

withTmpfs(t, 'an origin that answers the quota properties keeps its values; without fresh figures nothing changes', async (t) => {
  const own = `<?xml version="1.0" encoding="utf-8"?>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>/</d:href><d:propstat><d:prop><d:quota-available-bytes>4242</d:quota-available-bytes><d:quota-used-bytes>17</d:quota-used-bytes></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`;
  const lacking = `<?xml version="1.0" encoding="utf-8"?>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>/</d:href><d:propstat><d:prop><d:quota-available-bytes/><d:quota-used-bytes/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response></d:multistatus>`;
  const received: string[] = [];
  const origin = await serve(t, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(body);
      const answer = req.url === '/own/' ? own : lacking;
      res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  const volume = mountTmpfs(t, 'size=4m');
  const gateway = await gatewayFor(t, origin, {
    origins: [{ name: 'dav', url: origin, headroom: { local: { paths: [volume], interval: '100ms' } } }],
    routes: [{ origin: 'dav' }],
  });
  await until(() => gateway.registry.get('dav', volume)?.snapshot != null, 'the first snapshot');

  const kept = await propfind(`${gateway.url}/own/`, QUOTA_PROPFIND, '0');
  t.equal(kept.body.toString(), own, "the origin's own values pass unchanged");
  const filled = await propfind(`${gateway.url}/lacking/`, QUOTA_PROPFIND, '0');
  t.match(filled.body.toString(), /<d:propstat><d:prop><d:quota-available-bytes>\d+<\/d:quota-available-bytes><d:quota-used-bytes>\d+<\/d:quota-used-bytes><\/d:prop><d:status>HTTP\/1.1 200 OK<\/d:status><\/d:propstat>/, 'a 200 propstat made in place of the emptied 404 one');
  t.notMatch(filled.body.toString(), /404/);
  t.same(received, [QUOTA_PROPFIND, QUOTA_PROPFIND], 'the request bodies reached the origin intact');

  // No source of figures for this origin: its answer passes as it is.
  const blind = await gatewayFor(t, origin, { origins: [{ name: 'dav', url: origin }], routes: [{ origin: 'dav' }] });
  const untouched = await propfind(`${blind.url}/lacking/`, QUOTA_PROPFIND, '0');
  t.equal(untouched.body.toString(), lacking);
  t.equal(untouched.headers['content-length'], String(Buffer.byteLength(lacking)));
});

const RCLONE = '/usr/bin/rclone';

const rcloneTest: typeof withTmpfs = existsSync(RCLONE) ? withTmpfs : (t, name) => void t.test(name, { skip: `${RCLONE} is not installed` }, async () => undefined);

rcloneTest(t, '`rclone about` shows the gateway figures; direct to Apache it shows none', async (t) => {
  const { volume, apache, gateway } = await stack(t);
  const about = async (url: string): Promise<Record<string, number>> => {
    const env = { ...process.env, RCLONE_CONFIG: '/dev/null', RCLONE_CONFIG_DAV_TYPE: 'webdav', RCLONE_CONFIG_DAV_URL: url, RCLONE_CONFIG_DAV_VENDOR: 'other' };
    const { stdout } = await promisify(execFile)(RCLONE, ['about', 'dav:', '--json'], { env });
    return JSON.parse(stdout) as Record<string, number>;
  };
  t.same(await about(apache.url), {}, 'Apache alone: nothing to show');
  const shown = await about(gateway.url);
  const s = statfsSync(volume);
  t.same(shown, { used: (s.blocks - s.bavail) * s.bsize, free: s.bavail * s.bsize - RESERVE, total: (s.blocks - s.bavail) * s.bsize + s.bavail * s.bsize - RESERVE });
});
