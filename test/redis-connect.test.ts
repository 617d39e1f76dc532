import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { RedisLedger } from '../src/ledger/redis-ledger.js';
import { createLogger } from '../src/log/log.js';
import { freePort } from './helpers/http.js';
import { redisUnavailable, startRedis } from './helpers/redis.js';

// How the ledger reaches Redis: credentials and a database in the URL, TLS, Sentinel.

const skip = redisUnavailable();
const DIST_LEDGER = path.resolve(import.meta.dirname, '../dist/src/ledger/redis-ledger.js');
const KEY = 'headroom:{files%00%2Fdata}:totals';
const ask = { volumeKey: 'files\u0000/data', bytes: 10, inodes: 0, roomBytes: 100, roomInodes: Infinity, since: null };

function ledgerOn(t: Test, url: string, sentinel = { name: '', addresses: [] as string[] }): RedisLedger {
  const ledger = new RedisLedger({ url, sentinel, leaseTimeMs: 10_000, timeoutMs: 1000, onUnavailable: 'reject', keepMs: () => 20_000, logger: createLogger('silent') });
  t.teardown(() => ledger.close());
  return ledger;
}

if (skip) t.test('connecting to Redis', { skip }, async () => undefined);
else {
  t.test('a password and a database number in the URL', async (t) => {
    const redis = await startRedis(t, { extra: ['requirepass s3cr:et'] });
    const denied = ledgerOn(t, `${redis.url}/3`);
    t.notOk(await denied.connected(2000), 'without the password Redis does not answer');
    t.match(denied.describe(), { state: 'unavailable', lastError: /NOAUTH|auth/i });
    const ledger = ledgerOn(t, `redis://:${encodeURIComponent('s3cr:et')}@127.0.0.1:${redis.port}/3`);
    t.ok(await ledger.connected(5000), 'with it, it does');
    const answer = await ledger.reserve(ask);
    t.ok(answer.granted);
    t.equal(await redis.cli('-n', '3', 'HGET', KEY, 'granted'), '10', 'the lease is in database 3');
    t.equal(await redis.cli('-n', '0', 'EXISTS', KEY), '0', 'not in database 0');
  });

  t.test('Sentinel: the ledger asks the sentinels for the master', async (t) => {
    const master = await startRedis(t);
    const sentinel = await startRedis(t, { sentinel: true, extra: [`sentinel monitor mymaster 127.0.0.1 ${master.port} 1`, 'sentinel down-after-milliseconds mymaster 5000'] });
    const unused = await freePort(); // a sentinel that is down: the next one is asked
    const ledger = ledgerOn(t, 'redis://', { name: 'mymaster', addresses: [`127.0.0.1:${unused}`, `127.0.0.1:${sentinel.port}`] });
    t.ok(await ledger.connected(5000), 'found the master through the sentinel');
    t.ok((await ledger.reserve(ask)).granted);
    t.equal(await master.cli('HGET', KEY, 'granted'), '10', 'the lease is on the master');
  });

  t.test('rediss://: TLS verified against the CAs the process trusts (NODE_EXTRA_CA_CERTS)', async (t) => {
    const probe = await startRedis(t); // only for its temp dir
    const dir = probe.dir;
    const pem = (name: string) => path.join(dir, name);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', pem('ca.key'), '-out', pem('ca.crt'), '-days', '1', '-subj', '/CN=headroom test CA'], { stdio: 'ignore' });
    execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', pem('server.key'), '-out', pem('server.csr'), '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    writeFileSync(pem('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    execFileSync('openssl', ['x509', '-req', '-in', pem('server.csr'), '-CA', pem('ca.crt'), '-CAkey', pem('ca.key'), '-CAcreateserial', '-out', pem('server.crt'), '-days', '1', '-extfile', pem('san.ext')], { stdio: 'ignore' });
    const redis = await startRedis(t, { tls: { cert: pem('server.crt'), key: pem('server.key') } });
    t.match(redis.url, /^rediss:/);
    // The CA a process trusts is fixed when it starts: a child process per case.
    const script = pem('reserve.mjs');
    writeFileSync(script, `
import { RedisLedger } from ${JSON.stringify(DIST_LEDGER)};
import { createLogger } from ${JSON.stringify(path.resolve(import.meta.dirname, '../dist/src/log/log.js'))};
const ledger = new RedisLedger({ url: ${JSON.stringify(redis.url)}, sentinel: { name: '', addresses: [] }, leaseTimeMs: 10000, timeoutMs: 1000, onUnavailable: 'reject', keepMs: () => 20000, logger: createLogger('silent') });
const connected = await ledger.connected(3000);
const answer = connected ? await ledger.reserve(${JSON.stringify(ask)}) : null;
console.log(JSON.stringify({ connected, granted: answer?.granted ?? false, lastError: ledger.describe().lastError }));
await ledger.close();
process.exit(0);
`);
    const run = (env: Record<string, string>) => {
      const ran = spawnSync(process.execPath, [script], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
      if (ran.status !== 0) throw new Error(`the TLS client failed: ${ran.stderr}`);
      return JSON.parse(ran.stdout) as { connected: boolean; granted: boolean; lastError: string | null };
    };
    t.match(run({}), { connected: false, granted: false, lastError: /certificate/i }, 'a server certificate from an unknown CA is refused');
    t.match(run({ NODE_EXTRA_CA_CERTS: pem('ca.crt') }), { connected: true, granted: true }, 'trusted, the ledger works over TLS');
    t.equal(await redis.cli('HGET', KEY, 'granted'), '10');
  });
}
