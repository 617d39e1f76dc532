import t from 'tap';
import { gatewayFor } from './helpers/gateway.js';
import { holdingOrigin, put, snapshotAfter, upload, volumeOf } from './helpers/holding-origin.js';
import { until } from './helpers/http.js';
import { mountTmpfs, withTmpfs } from './helpers/tmpfs.js';

// Found in review: a file takes whole blocks (a page on tmpfs), so 1-byte
// files grow the volume by 4 KiB each. Exact accounting must not credit
// that growth to an upload whose bytes sit in an origin's memory — which
// would admit a write that, once that upload lands, does not fit.

const MiB = 1024 ** 2;

withTmpfs(t, 'exact accounting and block overhead', async (t) => {
  await t.test('growth of small files beyond their bytes is not taken as an in-flight upload landed', async (t) => {
    const volume = mountTmpfs(t, 'size=16m');
    const origin = await holdingOrigin(t, { dir: volume, holds: (name) => name.startsWith('held') });
    const gateway = await gatewayFor(t, origin.url, {
      origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [volume], interval: '50ms' } } }],
      policy: { reserve: '0%', floodStage: 0.99, floodRelease: 0.98, minFreeInodes: 0 },
    });
    await snapshotAfter(gateway);
    const held = upload(gateway, 'held.bin', { 'content-length': String(8 * MiB) });
    held.req.end(Buffer.alloc(8 * MiB, 1));
    await until(() => origin.waiting() === 1, 'the 8 MiB body in the origin’s memory');
    await snapshotAfter(gateway);
    await snapshotAfter(gateway);
    // 512 one-byte files: 512 bytes counted, 2 MiB of pages taken.
    let stored = 0;
    for (let i = 0; i < 512; i += 16) {
      const statuses = await Promise.all(Array.from({ length: 16 }, (_, j) => put(gateway, `small-${i + j}`, 1)));
      stored += statuses.filter((s) => s === 201).length;
    }
    t.equal(stored, 512, 'the small files are stored');
    await snapshotAfter(gateway);
    await snapshotAfter(gateway);
    const state = volumeOf(gateway);
    const s = state.snapshot!;
    t.comment(`available ${(s.availableBytes / MiB).toFixed(2)} MiB, writtenSinceSnapshot ${(state.writtenSinceSnapshot / MiB).toFixed(2)} MiB, reserved ${gateway.ledger.totalReservedBytes()}`);
    // On the disk: 2 MiB of small files; in the origin's memory: 8 MiB still to land. 6 MiB are free for others.
    t.ok(state.writtenSinceSnapshot >= 8 * MiB - 4096, 'the held upload’s 8 MiB, on no disk yet, still count as not shown');
    t.equal(await put(gateway, 'seven.bin', 7 * MiB), 507, 'a 7 MiB write does not fit beside the 8 MiB still to land');
    origin.answerAll();
    t.equal(await held.status, 201, 'the held upload, admitted first, is stored');
    t.equal(gateway.ledger.totalReservedBytes(), 0);
  });
});
