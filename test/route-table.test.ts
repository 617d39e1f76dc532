import t from 'tap';
import type { RouteConfig } from '../src/config/types.js';
import type { Origin } from '../src/exchange/origin.js';
import { RouteTable } from '../src/gateway/route-table.js';
import { normaliseHost } from '../src/http/request-target.js';

// The route table's index against the rule it stands for: the first route in
// configuration order whose prefix the path starts with and whose host (if it
// has one) is the request's wins.

/** An origin as the table reads it: a name and no local paths. */
const origin = (name: string): Origin => ({ name, config: { headroom: { local: null } } }) as unknown as Origin;
const origins = new Map(['a', 'b'].map((n) => [n, origin(n)]));

const route = (pathPrefix: string, host: string | null = null): RouteConfig => ({ match: { pathPrefix, host }, origin: 'a', volume: null, volumes: null });

/** The rule itself: a scan in configuration order. */
function linearMatch(routes: readonly RouteConfig[], host: string, path: string): number {
  return routes.findIndex((r) => path.startsWith(r.match.pathPrefix) && (r.match.host === null || normaliseHost(r.match.host) === host));
}

/**
 * A table over `routes`, each on an origin of its own ("o<index>"), so that
 * the route it picks tells its configuration index (-1: none).
 */
function tableOf(routes: readonly RouteConfig[]): { picked: (host: string, path: string) => number } {
  const tagged = routes.map((r, i) => ({ ...r, origin: `o${i}` }));
  const table = new RouteTable(tagged, new Map(tagged.map((r) => [r.origin, origin(r.origin)])));
  return {
    picked: (host, path) => {
      const m = table.match(host, path);
      return m === null ? -1 : Number(m.origin.name.slice(1));
    },
  };
}

t.test('overlapping prefixes: the first in configuration order wins, not the longest', async (t) => {
  const routes = [route('/a/b/'), route('/a/'), route('/a/b/c/'), route('/')];
  const { picked } = tableOf(routes);
  t.equal(picked('x', '/a/b/c/d'), 0, 'the earlier, shorter-than-longest prefix');
  t.equal(picked('x', '/a/x'), 1);
  t.equal(picked('x', '/a/b'), 1, '/a/b is not under /a/b/');
  t.equal(picked('x', '/z'), 3, '"/" matches every path');
  t.equal(picked('x', '/'), 3);
  const later = tableOf([route('/'), route('/a/')]);
  t.equal(later.picked('x', '/a/b'), 0, '"/" first takes everything');
});

t.test('a prefix is a plain string prefix, not a segment one', async (t) => {
  const { picked } = tableOf([route('/ab'), route('/a')]);
  t.equal(picked('h', '/abc/d'), 0);
  t.equal(picked('h', '/a'), 1);
  t.equal(picked('h', '/ax'), 1);
  t.equal(picked('h', '/b'), -1, 'no route: null');
  t.equal(tableOf([]).picked('h', '/'), -1, 'no routes at all');
});

t.test('host-specific and host-less routes interleave in configuration order', async (t) => {
  const routes = [route('/p/', 'one.example'), route('/p/'), route('/p/', 'two.example'), route('/', 'two.example'), route('/q/')];
  const { picked } = tableOf(routes);
  t.equal(picked('one.example', '/p/x'), 0, 'its own host first');
  t.equal(picked('two.example', '/p/x'), 1, 'the host-less route before the later host route');
  t.equal(picked('three.example', '/p/x'), 1);
  t.equal(picked('two.example', '/q/x'), 3, 'a host route with a shorter prefix before a later host-less one');
  t.equal(picked('one.example', '/q/x'), 4);
  t.equal(picked('three.example', '/z'), -1);
  t.equal(picked('two.example', '/z'), 3);
});

t.test('hosts are compared normalised', async (t) => {
  const { picked } = tableOf([route('/', 'Files.Example.'), route('/', '[::1]:8080')]);
  t.equal(picked(normaliseHost('files.example:8000')!, '/x'), 0, 'case, trailing dot and port do not count');
  t.equal(picked(normaliseHost('[::1]')!, '/x'), 1);
  t.equal(picked('other.example', '/x'), -1);
});

t.test('duplicate prefixes: the first stays first, a later duplicate never wins', async (t) => {
  const { picked } = tableOf([route('/d/'), route('/d/'), route('/d/', 'h'), route('/d/', 'h')]);
  t.equal(picked('h', '/d/x'), 0);
  const hosts = tableOf([route('/d/', 'h'), route('/d/', 'h'), route('/d/')]);
  t.equal(hosts.picked('h', '/d/x'), 0);
  t.equal(hosts.picked('g', '/d/x'), 2);
});

t.test('prefixes that split one another, added in either order', async (t) => {
  // Each of these splits a node an earlier one made.
  const prefixes = ['/abcdef', '/abcxyz', '/ab', '/abcd', '/a', '/abcdefg', '/abq'];
  for (const order of [prefixes, [...prefixes].reverse()]) {
    const routes = order.map((p) => route(p));
    const { picked } = tableOf(routes);
    for (const path of ['/abcdefgh', '/abcdef', '/abcde', '/abcxy', '/abcxyz1', '/abq', '/ab', '/a', '/b', '/', '']) {
      t.equal(picked('h', path), linearMatch(routes, 'h', path), `${JSON.stringify(order)}: ${path}`);
    }
  }
});

t.test('the route objects carry what the configuration says', async (t) => {
  const routes: RouteConfig[] = [{ match: { pathPrefix: '/v/', host: 'H.example' }, origin: 'b', volume: '/srv', volumes: null }];
  const table = new RouteTable(routes, origins);
  const m = table.match('h.example', '/v/1');
  t.ok(m);
  t.equal(m!.origin, origins.get('b'));
  t.equal(m!.host, 'h.example');
  t.equal(m!.pathPrefix, '/v/');
  t.same(m!.volumes, [{ volume: '/srv', share: 1 }]);
  t.equal(table.match('h.example', '/w'), null);
  t.throws(() => new RouteTable([{ ...routes[0]!, origin: 'nope' }], origins), /unknown origin "nope"/);
});

/** A small deterministic generator (mulberry32), so that a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('randomized: the index picks what a scan in configuration order picks', async (t) => {
  const hosts = ['h1', 'h2', 'h3'];
  let checked = 0;
  let mismatches = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const rnd = random(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    // A small alphabet, so that prefixes overlap, nest, repeat and split one another.
    const word = (max: number): string => Array.from({ length: Math.floor(rnd() * (max + 1)) }, () => pick(['a', 'b', '/'])).join('');
    const count = 1 + Math.floor(rnd() * 40);
    const routes = Array.from({ length: count }, () => route('/' + word(6), rnd() < 0.4 ? pick(hosts) : null));
    const { picked } = tableOf(routes);
    for (let q = 0; q < 60; q++) {
      const host = pick([...hosts, 'h4']);
      const path = '/' + word(9);
      const want = linearMatch(routes, host, path);
      const got = picked(host, path);
      checked++;
      if (got !== want) {
        mismatches++;
        if (mismatches <= 5) t.equal(got, want, `seed ${seed}: ${host} ${path} among ${JSON.stringify(routes.map((r) => [r.match.pathPrefix, r.match.host]))}`);
      }
    }
  }
  t.equal(mismatches, 0, `${checked} lookups agree with the scan`);
});

t.test('10,000 routes: still the first match', async (t) => {
  const routes = Array.from({ length: 10_000 }, (_, i) => route(`/r${i}/`, i % 3 === 0 ? `h${i % 7}` : null));
  routes.push(route('/'));
  const { picked } = tableOf(routes);
  for (const i of [0, 1, 2, 3, 4999, 9998, 9999]) {
    for (const host of ['h0', 'h3', 'none']) t.equal(picked(host, `/r${i}/x`), linearMatch(routes, host, `/r${i}/x`), `/r${i}/x at ${host}`);
  }
  t.equal(picked('none', '/elsewhere'), 10_000);
});

t.test('randomized, adversarial: UTF-16 pieces (lone surrogates, combining marks), percent signs, empty and "/" prefixes, prefixes cut from others, hosts named like Object members', async (t) => {
  // Pieces whose code units share first units (é / e + U+0301, two emoji with one high surrogate), so labels split inside characters.
  const atoms = ['/', 'a', '%2F', '%2f', '%', 'é', 'e\u0301', '\u{1F600}', '\u{1F601}', '\ud83d', '\ude00', '\u0000', '//', '.', 'A', '\uffff', 'Ā'];
  const hosts = ['h', 'g', '[::1]', 'xn--e1a', '__proto__', 'constructor', 'tostring'];
  let checked = 0;
  let mismatches = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const rnd = random(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const word = (max: number): string => Array.from({ length: Math.floor(rnd() * (max + 1)) }, () => pick(atoms)).join('');
    const prefixes: string[] = [];
    const routes = Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => {
      const k = rnd();
      const cutFrom = prefixes.length > 0 ? pick(prefixes) : '/';
      const prefix = k < 0.1 ? '' : k < 0.2 ? '/' : k < 0.5 ? cutFrom.slice(0, Math.floor(rnd() * (cutFrom.length + 1))) + word(2) : '/' + word(4);
      prefixes.push(prefix);
      return route(prefix, rnd() < 0.5 ? pick(hosts) : null);
    });
    const { picked } = tableOf(routes);
    for (let q = 0; q < 100; q++) {
      const host = pick([...hosts, 'other']);
      const from = pick(prefixes);
      const path = rnd() < 0.4 ? from + word(2) : rnd() < 0.5 ? from.slice(0, Math.floor(rnd() * (from.length + 1))) : '/' + word(5);
      const want = linearMatch(routes, host, path);
      const got = picked(host, path);
      checked++;
      if (got !== want) {
        mismatches++;
        if (mismatches <= 5) t.equal(got, want, `seed ${seed}: ${host} ${JSON.stringify(path)} among ${JSON.stringify(routes.map((r) => [r.match.pathPrefix, r.match.host]))}`);
      }
    }
  }
  t.equal(mismatches, 0, `${checked} lookups agree with the scan`);
});

t.test('10,000 routes on one long common stem, and paths of a million characters', async (t) => {
  const routes = Array.from({ length: 10_000 }, (_, i) => route(`/${'x'.repeat(i % 300)}${i}`, i % 3 === 0 ? 'h' : null));
  routes.push(route('/'));
  const { picked } = tableOf(routes);
  for (const path of [`/${'x'.repeat(299)}299${'y'.repeat(1e6)}`, `/${'x'.repeat(1e6)}`, '/9999', `/${'x'.repeat(9999 % 300)}9999z`, `/${'x'.repeat(9000 % 300)}9000`]) {
    for (const host of ['h', 'g']) t.equal(picked(host, path), linearMatch(routes, host, path), `${host} ${path.slice(0, 40)}… (${path.length} chars)`);
  }
});
