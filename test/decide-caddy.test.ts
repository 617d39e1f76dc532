import { statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CADDY } from './helpers/caddy.js';
import { decideSetup, documentedCaddy } from './helpers/decide.js';
import { request } from './helpers/http.js';
import { withBinaries } from './helpers/installed.js';
import { withTmpfs } from './helpers/tmpfs.js';

const MiB = 1024 ** 2;

withTmpfs(t, 'Caddy forward_auth (the documented snippet) in front of Apache on a 16 MiB tmpfs', async (t) => {
  withBinaries(t, 'a refused write gets Headroom’s 507, a fitting one is stored, reads are not asked', [CADDY, '/usr/sbin/apache2'], async (t) => {
    // Caddy sends no end signal: the leases end by time (short ones here, so the test sees the room come back).
    const setup = await decideSetup(t, { minRate: '1GiB', lease: { min: '1s' } });
    const port = await documentedCaddy(t, setup);
    const url = `http://127.0.0.1:${port}`;

    const fits = await request(`${url}/fits.bin`, { method: 'PUT', headers: { 'content-length': 4 * MiB } }, Buffer.alloc(4 * MiB, 1));
    t.equal(fits.status, 201, 'a fitting PUT is stored');
    t.equal(statSync(path.join(setup.volume, 'fits.bin')).size, 4 * MiB);

    const atApache = setup.toApache.bytesToTarget();
    const refused = await request(`${url}/big.bin`, { method: 'PUT', headers: { 'content-length': 12 * MiB } }, Buffer.alloc(12 * MiB, 2));
    t.equal(refused.status, 507, 'the client gets the 507');
    t.equal(refused.headers['content-type'], 'application/problem+json');
    t.ok(refused.headers['retry-after']);
    t.match(JSON.parse(refused.body.toString()), { status: 507, error: 'insufficient_storage', requested: 12 * MiB });
    t.equal(setup.toApache.bytesToTarget(), atApache, 'Apache counted 0 bytes of the refused PUT');

    const asked = setup.toDecide.bytesToTarget();
    const read = await request(`${url}/fits.bin`);
    t.equal(read.status, 200);
    t.equal(setup.toDecide.bytesToTarget(), asked, 'the GET did not reach the decision endpoint');
  });
});
