import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { request, until, type Reply } from './helpers/http.js';
import { apacheInstalled, startApache } from './helpers/apache.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// One Apache over two tmpfs volumes: a roomy 16 MiB DocumentRoot and a 4 MiB
// volume mounted inside it at /small/. A COPY or MOVE is judged against the
// volume its Destination lands on, sized from its source.

const KiB = 1024;
const MiB = 1024 * KiB;

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function file(dir: string, name: string, bytes: number, fill: number): string {
  const at = path.join(dir, name);
  writeFileSync(at, Buffer.alloc(bytes, fill));
  chownSync(at, 33, 33);
  return at;
}

interface Stack {
  readonly big: string;
  readonly small: string;
  readonly apacheUrl: string;
  gateway(policy?: Record<string, unknown>): Promise<RunningGateway>;
}

async function stack(t: Test): Promise<Stack> {
  if (!apacheInstalled()) throw new Error('apache2 is not installed: run `apt-get install -y apache2` (.ci/run does)');
  const big = mountTmpfs(t, 'size=16m,uid=33,gid=33');
  const small = path.join(big, 'small');
  mkdirSync(small);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,uid=33,gid=33', 'tmpfs', small]);
  t.teardown(() => execFileSync('umount', ['-l', small]));
  const apache = await startApache(big);
  t.teardown(() => apache.close());
  return {
    big,
    small,
    apacheUrl: apache.url,
    gateway: async (policy = {}) => {
      const gateway = await gatewayFor(t, apache.url, {
        origins: [{ name: 'dav', url: apache.url, headroom: { local: { paths: [big, small], interval: '50ms' } } }],
        routes: [
          { match: { pathPrefix: '/small/' }, origin: 'dav', volume: small },
          { match: { pathPrefix: '/' }, origin: 'dav', volume: big },
        ],
        policy: { reserve: '1MiB', minFreeInodes: 0, ...policy },
      });
      const after = Date.now();
      await until(() => [big, small].every((v) => (gateway.registry.get('dav', v)?.snapshot?.takenAt ?? 0) > after), 'fresh snapshots of both volumes');
      return gateway;
    },
  };
}

const transfer = (gateway: RunningGateway, method: 'COPY' | 'MOVE', from: string, to: string, headers: Record<string, string> = {}): Promise<Reply> =>
  request(`${gateway.url}${from}`, { method, headers: { destination: `${gateway.url}${to}`, ...headers } });

function refusedByGateway(t: Test, reply: Reply, what: string, fields: Record<string, unknown>): void {
  t.equal(reply.status, 507, `${what}: 507`);
  t.equal(reply.headers.server, 'headroom', `${what}: from the gateway, not Apache`);
  if (reply.headers['content-type'] === 'application/problem+json') t.match(JSON.parse(reply.body.toString()), { error: 'insufficient_storage', ...fields }, `${what}: the refusal names the size and the destination's volume`);
}

withTmpfs(t, 'COPY and MOVE into a volume without room are refused; the destination is unchanged, also with Overwrite: T', async (t) => {
  const { big, small, gateway: start } = await stack(t);
  // The small volume: 4 MiB less a 1 MiB reserve, 1.5 MiB stored: 1.5 MiB usable, 2.5 MiB free.
  const existing = file(small, 'existing.bin', 1.5 * MiB, 1);
  const existingSum = sha256(existing);
  file(big, 'two.bin', 2 * MiB, 2);
  file(big, 'tiny.bin', 100 * KiB, 3);
  mkdirSync(path.join(big, 'dir'));
  chownSync(path.join(big, 'dir'), 33, 33);
  for (let i = 0; i < 4; i++) file(path.join(big, 'dir'), `part-${i}.bin`, 512 * KiB, 4);
  const gateway = await start();

  const copy = await transfer(gateway, 'COPY', '/two.bin', '/small/new.bin');
  refusedByGateway(t, copy, 'COPY of 2 MiB into 1.5 MiB usable', { requested: 2 * MiB, volume: small, destination: '/small/new.bin' });
  t.notOk(existsSync(path.join(small, 'new.bin')), 'no copy was made (it would have fit in the free space, through the reserve)');

  const overwrite = await transfer(gateway, 'COPY', '/two.bin', '/small/existing.bin', { overwrite: 'T' });
  refusedByGateway(t, overwrite, 'COPY onto an existing file, Overwrite: T', { requested: 2 * MiB, volume: small });
  t.equal(sha256(existing), existingSum, 'the destination is unchanged (checksum)');

  const move = await transfer(gateway, 'MOVE', '/two.bin', '/small/existing.bin');
  refusedByGateway(t, move, 'MOVE across volumes onto an existing file (Overwrite: T by default)', { requested: 2 * MiB, volume: small });
  t.equal(sha256(existing), existingSum, 'the destination is unchanged (checksum)');
  t.ok(existsSync(path.join(big, 'two.bin')), 'and the source is still there');

  const collection = await transfer(gateway, 'COPY', '/dir/', '/small/dir/');
  refusedByGateway(t, collection, 'COPY of a 2 MiB collection', { requested: 2 * MiB, volume: small });
  t.notOk(existsSync(path.join(small, 'dir')), 'no partial copy of the collection');

  const fits = await transfer(gateway, 'COPY', '/tiny.bin', '/small/tiny.bin');
  t.equal(fits.status, 201, 'a COPY that fits is carried out by Apache');
  t.equal(sha256(path.join(small, 'tiny.bin')), sha256(path.join(big, 'tiny.bin')));
  const dirFits = await transfer(gateway, 'COPY', '/dir/', '/dirs-copy/');
  t.equal(dirFits.status, 201, 'a collection’s COPY within the roomy volume is carried out');
  t.equal(gateway.ledger.totalReservedBytes(), 0, 'nothing stays reserved');
  t.equal(gateway.ledger.totalReservedInodes(), 0);
});

withTmpfs(t, 'a MOVE within one volume is a rename: admitted with no room left', async (t) => {
  const { big, gateway: start } = await stack(t);
  const moving = file(big, 'two.bin', 2 * MiB, 2);
  const sum = sha256(moving);
  file(big, 'filler.bin', 12 * MiB, 5); // 16 MiB less 1 MiB reserve, 14 MiB stored: 1 MiB usable
  const gateway = await start();
  const copy = await transfer(gateway, 'COPY', '/two.bin', '/two-copy.bin');
  refusedByGateway(t, copy, 'a COPY within the volume needs the room', { requested: 2 * MiB, volume: big });
  const move = await transfer(gateway, 'MOVE', '/two.bin', '/renamed.bin');
  t.equal(move.status, 201, 'the MOVE is carried out');
  t.equal(sha256(path.join(big, 'renamed.bin')), sum);
});

withTmpfs(t, 'a source too large to walk is judged by policy.onUnknown', async (t) => {
  const { big, gateway: start } = await stack(t);
  mkdirSync(path.join(big, 'dir'));
  chownSync(path.join(big, 'dir'), 33, 33);
  for (let i = 0; i < 5; i++) file(path.join(big, 'dir'), `f${i}`, 1, 1);
  const rejecting = await start({ onUnknown: 'reject', copyWalk: { maxEntries: 3 } });
  const refused = await transfer(rejecting, 'COPY', '/dir/', '/small/dir/');
  t.equal(refused.status, 503);
  t.match(JSON.parse(refused.body.toString()), { error: 'storage_unknown', volume: path.join(big, 'small') });
  t.ok(refused.headers['retry-after']);
  const admitting = await start({ onUnknown: 'admit', copyWalk: { maxEntries: 3 } });
  const admitted = await transfer(admitting, 'COPY', '/dir/', '/small/dir/');
  t.equal(admitted.status, 201, 'onUnknown: admit lets it through while the volume has room');
  t.match(admitting.logLines.find((l) => l.method === 'COPY'), { decision: 'admit_unknown' });
});
