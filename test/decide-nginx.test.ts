import { statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { decideSetup, documentedSnippet, replaced } from './helpers/decide.js';
import { freePort, request, until } from './helpers/http.js';
import { withBinaries } from './helpers/installed.js';
import { NGINX, startNginx } from './helpers/nginx.js';
import { withTmpfs } from './helpers/tmpfs.js';

const MiB = 1024 ** 2;

withTmpfs(t, 'nginx auth_request (the documented snippet) in front of Apache on a 16 MiB tmpfs', async (t) => {
  withBinaries(t, 'writes are judged, reads are not, reservations end', [NGINX, '/usr/sbin/apache2'], async (t) => {
    // A long lease: only the snippet's end signal can give the room back within the test.
    const setup = await decideSetup(t, { lease: { min: '10m', max: '1h' } });
    const port = await freePort();
    let conf = documentedSnippet('nginx');
    conf = replaced(conf, 'server 127.0.0.1:9191;', `server 127.0.0.1:${new URL(setup.toDecide.url).port};`);
    conf = replaced(conf, 'server 127.0.0.1:8000;', `server 127.0.0.1:${new URL(setup.toApache.url).port};`);
    conf = replaced(conf, 'listen 8080;', `listen 127.0.0.1:${port};`);
    conf = replaced(conf, 'syslog:server=127.0.0.1:9192,', `syslog:server=127.0.0.1:${setup.syslogPort},`);
    const nginx = await startNginx(conf, port);
    t.teardown(() => nginx.close());
    const url = `http://127.0.0.1:${port}`;

    // A write that fits is stored.
    const fits = await request(`${url}/fits.bin`, { method: 'PUT', headers: { 'content-length': 4 * MiB } }, Buffer.alloc(4 * MiB, 1));
    t.equal(fits.status, 201, 'a fitting PUT is stored');
    t.equal(statSync(path.join(setup.volume, 'fits.bin')).size, 4 * MiB);
    t.ok(setup.toDecide.bytesToTarget() > 0, 'the write was asked about');

    // One that does not fit gets Headroom's 507, and no byte reaches Apache.
    const atApache = setup.toApache.bytesToTarget();
    const refused = await request(`${url}/big.bin`, { method: 'PUT', headers: { 'content-length': 12 * MiB } }, Buffer.alloc(12 * MiB, 2));
    t.equal(refused.status, 507, 'the client gets the 507');
    t.equal(refused.headers['content-type'], 'application/problem+json');
    t.equal(refused.headers.server, 'headroom', 'Headroom’s own answer, passed through');
    t.ok(refused.headers['retry-after']);
    t.match(JSON.parse(refused.body.toString()), { status: 507, error: 'insufficient_storage', requested: 12 * MiB });
    t.equal(setup.toApache.bytesToTarget(), atApache, 'Apache counted 0 bytes of the refused PUT');

    // Reads never reach Headroom.
    const asked = setup.toDecide.bytesToTarget();
    for (let i = 0; i < 5; i++) {
      const read = await request(`${url}/fits.bin`);
      t.equal(read.status, 200);
      t.equal(read.body.length, 4 * MiB);
    }
    const options = await request(`${url}/`, { method: 'PROPFIND', headers: { depth: '1' } });
    t.equal(options.status, 207);
    t.equal(setup.toDecide.bytesToTarget(), asked, 'no GET or PROPFIND reached the decision endpoint');

    // Completed and aborted uploads: every reservation ends, by the end signal, long before the lease would.
    const aborted = (name: string) =>
      new Promise<void>((resolve) => {
        const before = setup.toApache.bytesToTarget();
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write(`PUT /${name} HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 * MiB}\r\n\r\n`);
          socket.write(Buffer.alloc(256 * 1024));
        });
        socket.on('error', () => undefined);
        // Once Apache has part of the body, the client goes away.
        void until(() => setup.toApache.bytesToTarget() > before + 128 * 1024, 'part of the aborted body at Apache').then(() => {
          socket.destroy();
          resolve();
        });
      });
    await Promise.all([
      request(`${url}/a.bin`, { method: 'PUT', headers: { 'content-length': MiB } }, Buffer.alloc(MiB)),
      aborted('b.bin'),
      request(`${url}/c.bin`, { method: 'PUT', headers: { 'content-length': 1024 } }, Buffer.alloc(1024)),
    ]);
    await aborted('d.bin');
    await until(async () => {
      const held = await setup.held();
      return held.reservedBytes === 0 && held.leases === 0;
    }, 'reservations to return to 0', 5000);
    t.pass('reservations returned to 0 after completed and aborted uploads');
    const admin = `http://127.0.0.1:${setup.gateway.adminAddress.port}`;
    const { ended } = JSON.parse((await request(`${admin}/plugins/decide/`)).body.toString()) as { ended: Record<string, number> };
    t.equal(ended.time, 0, 'no lease ran out');
    t.equal(ended.signal + ended.landed, 5, 'all five ended');
    t.ok(ended.signal >= 2, 'the two aborted ones (which never land) by nginx’s end signal');
    t.notMatch(nginx.errorLog(), /\[(error|crit|alert|emerg)\].*headroom_decide/, 'nginx reached the endpoint every time');
  });
});
