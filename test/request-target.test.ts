import t from 'tap';
import { normaliseHost, readRequestTarget } from '../src/http/request-target.js';

t.test('targets are matched on the path an origin resolves, and forwarded as sent', async (t) => {
  const cases: Array<[raw: string, path: string, originForm?: string, authority?: string]> = [
    ['/a/b', '/a/b'],
    ['/', '/'],
    ['/a/', '/a/'],
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a//b', '/a/b'],
    ['//a', '/a'],
    ['/a/%2e%2e/b', '/b'],
    ['/a/%2E./b', '/b'],
    ['/%7Euser/%61', '/~user/a'],
    ['/a%2db', '/a-b'],
    ['/a%2fb', '/a%2Fb', undefined, undefined],
    ['/%e2%82%ac', '/%E2%82%AC'],
    ['/a;p=1/b', '/a;p=1/b'],
    ['/a?x=/../y#', ''],
    ['/a/b?q=%2F..', '/a/b'],
    ['http://Files.Example:8080/x/../y?q', '/y', '/x/../y?q', 'Files.Example:8080'],
    ['https://h', '/', '/', 'h'],
    ['http://h?q=1', '/', '/?q=1', 'h'],
    ['*', '*'],
  ];
  for (const [raw, path, originForm = raw, authority = null] of cases) {
    const read = readRequestTarget(raw, raw.includes('%2f') ? 'keep' : 'reject');
    if (path === '') {
      t.notOk(read.ok, `${raw}: refused`);
      continue;
    }
    t.same(read, { ok: true, target: { originForm, path, authority } }, raw);
  }
});

t.test('targets origins could read in more than one way are refused', async (t) => {
  for (const raw of ['/a#b', '/a\\b', '/a%zz', '/a%4', '/a%00b', '/a%2Fb', '/a%5cb', '/..', '/a/../..', '/%2e%2e/x', 'ftp://h/x', 'http:///x', 'http://u@h/x', 'h/x', '/a b', '/a\u0001', '/é']) {
    t.notOk(readRequestTarget(raw, 'reject').ok, JSON.stringify(raw));
  }
  t.ok(readRequestTarget('/a%2Fb', 'keep').ok, 'an encoded slash is kept when configured');
});

t.test('hosts are compared in lower case, without port or trailing dot', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['Files.Example', 'files.example'],
    ['files.example.', 'files.example'],
    ['files.example.:8080', 'files.example'],
    ['[::1]:8080', '[::1]'],
    ['127.0.0.1:80', '127.0.0.1'],
    ['', ''],
    ['a b', null],
    ['h:8o', null],
    ['[::1', null],
    ['h/x', null],
  ];
  for (const [host, normalised] of cases) t.equal(normaliseHost(host), normalised, JSON.stringify(host));
});
