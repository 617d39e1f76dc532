import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, chownSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { gatewayFor } from './helpers/gateway.js';
import { rawExchange, statusOf, until } from './helpers/http.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

/** What Apache mod_dav does with what the gateway lets through, on tmpfs. */

const WWW_DATA = 33;

function needApache(): void {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
}

withTmpfs(t, 'a chunked DELETE carrying DELETE /victim.txt deletes nothing; DELETE /coll/#x is refused; unusual targets arrive byte for byte', async (t) => {
  needApache();
  const root = mountTmpfs(t, 'size=16m,uid=33,gid=33');
  writeFileSync(path.join(root, 'victim.txt'), 'still here');
  mkdirSync(path.join(root, 'coll'));
  writeFileSync(path.join(root, 'coll', '1.jpg'), 'photo');
  execFileSync('chown', ['-R', `${WWW_DATA}:${WWW_DATA}`, root]);
  const apache = await startApache(root);
  t.teardown(() => apache.close());
  const gateway = await gatewayFor(t, apache.url, { log: { level: 'silent' } });

  const smuggled = 'DELETE /victim.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  const body = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
  const chunkedDelete = await rawExchange(gateway.port, `DELETE /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n${body}`, 300);
  t.equal(statusOf(chunkedDelete), 404, 'the DELETE of /nothing is answered by Apache');
  t.equal((chunkedDelete.match(/HTTP\/1\.1 \d{3}/g) ?? []).length, 1, 'one answer: nothing else was read as a request');
  t.ok(existsSync(path.join(root, 'victim.txt')), 'the victim is still there');
  t.notOk(apache.requestLines().includes('DELETE /victim.txt HTTP/1.1'), 'Apache never read DELETE /victim.txt');

  const fragment = await rawExchange(gateway.port, 'DELETE /coll/#1.jpg HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  t.equal(statusOf(fragment), 400, 'a # in the target: 400 from the gateway');
  t.match(fragment, /bad_request_target/);
  t.same(readdirSync(path.join(root, 'coll')), ['1.jpg'], 'the collection and its file stay');

  const targets = [
    '/a%20b', '/a%2520b', '/a;p=1', '/a;p=1/b;q=2', '/a+b', '/~user/file', `/q?${'k=v&'.repeat(1000)}end`,
    '/a?x=1&y=%2F&z=%3F', '/%E2%82%AC', '/a%2db', '/A%7eB', '/a/b/', '/a/./b', '/a/../b', '//a', '/a?b=c?d',
    '/a:b@c', "/a!$&'()*,=", '/a%3Bb', '/.well-known/x', '/a?q=%2B+%20', '/%61',
  ];
  t.ok(targets.length >= 20);
  for (const target of targets) {
    const before = apache.requestLines().length;
    const reply = await rawExchange(gateway.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    t.not(statusOf(reply), 0, `${target.slice(0, 40)}: answered`);
    await until(() => apache.requestLines().length > before, `Apache to log ${target.slice(0, 40)}`);
    t.equal(apache.requestLines().at(-1), `GET ${target} HTTP/1.1`, `${target.slice(0, 40)}: Apache read the target byte for byte`);
  }
});

withTmpfs(t, 'two routes to two tmpfs volumes of one Apache: no spelling of a path lands a write on the full volume unjudged', async (t) => {
  needApache();
  const big = mountTmpfs(t, 'size=64m,uid=33,gid=33');
  mkdirSync(path.join(big, 'big'));
  chownSync(path.join(big, 'big'), WWW_DATA, WWW_DATA);
  const small = path.join(big, 'small');
  mkdirSync(small);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,uid=33,gid=33', 'tmpfs', small]);
  t.teardown(() => execFileSync('umount', ['-l', small]));
  // 6 MiB left, below the 8 MiB reserve: the gateway refuses every write
  // there, although Apache could still store a small file.
  execFileSync('dd', ['if=/dev/zero', `of=${small}/filler`, 'bs=1M', 'count=10', 'status=none']);
  const apache = await startApache(big);
  t.teardown(() => apache.close());
  const gateway = await gatewayFor(t, apache.url, {
    log: { level: 'silent' },
    origins: [{ name: 'dav', url: apache.url, headroom: { local: { paths: [big, small], interval: '100ms' } } }],
    routes: [
      { match: { pathPrefix: '/small/', host: 'files.test' }, origin: 'dav', volume: small },
      { match: { pathPrefix: '/big/' }, origin: 'dav', volume: big },
      { match: { pathPrefix: '/small/' }, origin: 'dav', volume: small },
      { match: { pathPrefix: '/' }, origin: 'dav', volume: big },
    ],
    policy: { reserve: '8MiB' },
  });
  await until(() => gateway.registry.get('dav', small)?.snapshot != null && gateway.registry.get('dav', big)?.snapshot != null, 'both volumes measured');

  const put = (target: string, host = '127.0.0.1') =>
    rawExchange(gateway.port, `PUT ${target} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n${'x'.repeat(4096)}`);
  t.equal(statusOf(await put('/small/direct')), 507, 'a plain write into the full volume: 507');
  t.equal(statusOf(await put('/big/fits')), 201, 'and into the other: stored');

  const variants: Array<[target: string, host?: string]> = [
    ['/big/../small/v1'], ['/big/%2e%2e/small/v2'], ['/big/%2E%2E/small/v3'], ['/big/.%2e/small/v4'], ['//small/v5'],
    ['/./small/v6'], ['/big/./../small/v7'], ['/%73mall/v8'], ['/big/..%2fsmall/v9'], ['/big/..%2Fsmall/v10'],
    ['/big/..%5csmall/v11'], ['/big\\..\\small/v12'], ['http://127.0.0.1/big/../small/v13'], ['/big//../small/v14'],
    ['/big/%2e%2e//small/v17'], ['/small/./v18'],
  ];
  for (const [target, host] of variants) {
    const status = statusOf(await put(target, host));
    t.ok(status === 507 || status === 400, `${target}${host ? ` (Host: ${host})` : ''}: refused (${status})`);
  }

  // A volume routed by host only: every spelling of that host is that route.
  const byHost = await gatewayFor(t, apache.url, {
    log: { level: 'silent' },
    origins: [{ name: 'dav', url: apache.url, headroom: { local: { paths: [big, small], interval: '100ms' } } }],
    routes: [
      { match: { pathPrefix: '/small/', host: 'files.test' }, origin: 'dav', volume: small },
      { match: { pathPrefix: '/' }, origin: 'dav', volume: big },
    ],
    policy: { reserve: '8MiB' },
  });
  await until(() => byHost.registry.get('dav', small)?.snapshot != null && byHost.registry.get('dav', big)?.snapshot != null, 'both volumes measured');
  const putByHost = (target: string, host: string) =>
    rawExchange(byHost.port, `PUT ${target} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n${'x'.repeat(4096)}`);
  for (const host of ['files.test', 'FILES.TEST.', 'files.test.:80', 'Files.Test:8080']) {
    t.equal(statusOf(await putByHost(`/small/h-${host.replace(/[^a-z0-9]/gi, '')}`, host)), 507, `Host: ${host}: judged against the full volume`);
  }
  t.same(readdirSync(small).sort(), ['filler'], 'the full volume never got a file');
});
