import t from 'tap';
import { decideSetup, LONG_LEASES, nextSnapshot } from './helpers/decide.js';
import { request } from './helpers/http.js';
import { withBinaries } from './helpers/installed.js';
import { withTmpfs } from './helpers/tmpfs.js';

// Found in review: a COPY whose source size could not be learnt holds one
// stretch and counts that stretch as written when it ends, however much the
// origin copied. The growth beyond it must not be taken for a lease's bytes
// (nor, with exact accounting, for in-flight upload bytes landed).

const MiB = 1024 ** 2;

withTmpfs(t, 'a COPY of unlearnt size, on a 16 MiB tmpfs behind Apache', async (t) => {
  withBinaries(t, 'what a COPY of unlearnt size wrote beyond its stretch ends no lease', ['/usr/sbin/apache2'], async (t) => {
    const setup = await decideSetup(t, LONG_LEASES, { policy: { reserve: '0%', maxUploadShare: 0.05, copyWalk: { maxEntries: 1 } } });
    const gw = `http://127.0.0.1:${setup.gateway.address.port}`;
    t.equal((await request(`${gw}/col/`, { method: 'MKCOL' })).status, 201);
    for (const name of ['a', 'b', 'c']) {
      t.equal((await request(`${gw}/col/${name}.bin`, { method: 'PUT', headers: { 'content-length': MiB } }, Buffer.alloc(MiB, 5))).status, 201);
    }
    await nextSnapshot(setup);
    await nextSnapshot(setup);
    const asked = await request(setup.toDecide.url, { headers: { 'x-original-method': 'PUT', 'x-original-uri': '/never.bin', 'x-original-content-length': String(MiB) } });
    t.equal(asked.status, 204, 'a 1 MiB write is allowed, and never sent');
    const copied = await request(`${gw}/col/`, { method: 'COPY', headers: { destination: `${gw}/copy/`, depth: 'infinity' } });
    t.equal(copied.status, 201, 'the 3 MiB collection is copied (its size unlearnt: more than copyWalk.maxEntries)');
    await nextSnapshot(setup);
    await nextSnapshot(setup);
    t.equal((await setup.held()).leases, 1, 'the lease stays: the growth is the COPY’s');
  });
});
