import t from 'tap';
import { decideSetup, LONG_LEASES, nextSnapshot } from './helpers/decide.js';
import { request } from './helpers/http.js';
import { withBinaries } from './helpers/installed.js';
import { withTmpfs } from './helpers/tmpfs.js';

// Found in review: the gateway's own small writes take whole blocks (a page
// each on tmpfs), so the volume grows by more than their bytes. That growth
// must not end a decision endpoint's lease whose write never came.

const MiB = 1024 ** 2;

withTmpfs(t, 'lease landings and block overhead, on a 16 MiB tmpfs behind Apache', async (t) => {
  withBinaries(t, 'small files stored through the gateway do not end a lease whose write never came', ['/usr/sbin/apache2'], async (t) => {
    const setup = await decideSetup(t, LONG_LEASES);
    const asked = await request(setup.toDecide.url, { headers: { 'x-original-method': 'PUT', 'x-original-uri': '/never.bin', 'x-original-content-length': String(MiB) } });
    t.equal(asked.status, 204, 'a 1 MiB write is allowed, and never sent');
    // 320 one-byte files through the gateway itself: 320 bytes counted, 1.25 MiB of pages taken.
    let stored = 0;
    for (let i = 0; i < 320; i += 16) {
      const replies = await Promise.all(
        Array.from({ length: 16 }, (_, j) => request(`http://127.0.0.1:${setup.gateway.address.port}/small-${i + j}`, { method: 'PUT', headers: { 'content-length': 1 } }, 'x')),
      );
      stored += replies.filter((r) => r.status === 201).length;
    }
    t.equal(stored, 320, 'the small files are stored');
    await nextSnapshot(setup);
    await nextSnapshot(setup);
    t.equal((await setup.held()).leases, 1, 'the lease stays: the growth is the small files’');
    t.equal((await setup.held()).reservedBytes, MiB, 'holding its 1 MiB');
  });
});
