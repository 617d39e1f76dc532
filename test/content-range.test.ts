import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { request } from './helpers/http.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { countingRelay, type CountingRelay } from './helpers/tcp-relay.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// Apache writes a Content-Range PUT in place; cut midway or out of room, it
// leaves the file partly overwritten. By default the gateway refuses it.

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

async function stack(t: Test, policy: Record<string, unknown>): Promise<{ volume: string; relay: CountingRelay; gateway: RunningGateway }> {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const volume = mountTmpfs(t, 'size=16m,uid=33,gid=33');
  const apache = await startApache(volume);
  t.teardown(() => apache.close());
  const relay = await countingRelay(apache.port);
  t.teardown(() => relay.close());
  const gateway = await gatewayFor(t, relay.url, {
    origins: [{ name: 'dav', url: relay.url, headroom: { local: { paths: [volume], interval: '100ms' } } }],
    routes: [{ origin: 'dav' }],
    policy: { reserve: '1MiB', ...policy },
  });
  writeFileSync(path.join(volume, 'doc.bin'), Buffer.alloc(64 * 1024, 1));
  chownSync(path.join(volume, 'doc.bin'), 33, 33); // Apache (www-data) writes a partial PUT into the file itself
  return { volume, relay, gateway };
}

const partialPut = (gateway: RunningGateway) =>
  request(`${gateway.url}/doc.bin`, { method: 'PUT', headers: { 'content-range': 'bytes 0-1023/65536', 'content-length': '1024' } }, Buffer.alloc(1024, 2));

withTmpfs(t, 'a Content-Range PUT is refused with 400 range_not_supported by default; the file is unchanged', async (t) => {
  const { volume, relay, gateway } = await stack(t, {});
  const before = sha256(path.join(volume, 'doc.bin'));
  const answer = await partialPut(gateway);
  t.equal(answer.status, 400);
  t.equal(answer.headers.server, 'headroom');
  t.match(JSON.parse(answer.body.toString()), { error: 'range_not_supported', status: 400 });
  t.equal(sha256(path.join(volume, 'doc.bin')), before, 'the file is unchanged (checksum)');
  t.equal(relay.bytesToTarget(), 0, 'nothing reached Apache');
  const whole = await request(`${gateway.url}/doc.bin`, { method: 'PUT', headers: { 'content-length': '10' } }, Buffer.alloc(10, 3));
  t.equal(whole.status, 204, 'a whole PUT of the same file passes');
});

withTmpfs(t, 'policy.contentRange: admit forwards it, for origins that support partial PUT', async (t) => {
  const { volume, gateway } = await stack(t, { contentRange: 'admit' });
  const answer = await partialPut(gateway);
  t.ok(answer.status === 201 || answer.status === 204, `Apache took the partial PUT (${answer.status})`);
  const stored = readFileSync(path.join(volume, 'doc.bin'));
  t.equal(stored.length, 64 * 1024, 'written in place');
  t.same([stored[0], stored[1023], stored[1024]], [2, 2, 1], 'the first KiB overwritten, the rest as it was');
});
