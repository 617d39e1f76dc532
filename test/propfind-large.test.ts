import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GatewayStatus } from '../src/admin/status.js';
import { gatewayFor } from './helpers/gateway.js';
import { request, serve, until } from './helpers/http.js';

// A Depth 1 PROPFIND of 10,000 members asking for the quota properties: the
// answer streams through the fill (its memory is measured in bench/propfind.mjs)
// and arrives whole, every member filled, every other byte as the origin sent it.

const ENTRIES = 10_000;
const MISSING = '<D:propstat>\n<D:prop>\n<ns0:quota-available-bytes/>\n<ns0:quota-used-bytes/>\n</D:prop>\n<D:status>HTTP/1.1 404 Not Found</D:status>\n</D:propstat>\n';
const entry = (i: number): string =>
  `<D:response xmlns:lp1="DAV:">\n<D:href>/big/file-${i}.bin</D:href>\n<D:propstat>\n<D:prop>\n<lp1:getcontentlength>${i}</lp1:getcontentlength>\n</D:prop>\n<D:status>HTTP/1.1 200 OK</D:status>\n</D:propstat>\n${MISSING}</D:response>\n`;
const HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">\n';
const TAIL = '</D:multistatus>\n';
const QUOTA_PROPFIND = '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>';

t.test('a 10,000-entry PROPFIND answer arrives complete, every entry filled with the gateway’s figures', async (t) => {
  // The origin writes the answer in pieces as the gateway takes them, as a large listing comes.
  const origin = await serve(t, (req, res) => {
    req.resume();
    res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8' });
    res.write(HEAD);
    let i = 0;
    const more = (): void => {
      while (i < ENTRIES) {
        let piece = '';
        for (const end = Math.min(ENTRIES, i + 50); i < end; i++) piece += entry(i);
        if (!res.write(piece)) return void res.once('drain', more);
      }
      res.end(TAIL);
    };
    more();
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-propfind-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'stored.bin'), Buffer.alloc(3 * 1024 * 1024));
  const gateway = await gatewayFor(t, origin, {
    origins: [{ name: 'dav', url: origin, headroom: { local: { paths: [dir], capacity: '64MiB', interval: '100ms' } } }],
    routes: [{ origin: 'dav' }],
    policy: { reserve: '1MiB' },
    log: { level: 'silent' },
  });
  await until(() => gateway.registry.get('dav', dir)?.snapshot != null, 'the first snapshot');
  const status = JSON.parse((await request(`http://127.0.0.1:${gateway.adminAddress.port}/status`)).body.toString()) as GatewayStatus;
  const v = status.origins[0]!.volumes[0]!;
  const available = String(v.usableBytes);
  const used = String(v.totalBytes! - v.availableBytes!);
  t.equal(used, String(3 * 1024 * 1024), 'the figures: 3 MiB used of the 64 MiB allocation');

  const answer = await request(`${gateway.url}/big/`, { method: 'PROPFIND', headers: { depth: '1', 'content-type': 'application/xml; charset=utf-8', 'content-length': String(Buffer.byteLength(QUOTA_PROPFIND)) } }, QUOTA_PROPFIND);
  t.equal(answer.status, 207);
  const body = answer.body.toString();
  const filled = `<D:quota-available-bytes>${available}</D:quota-available-bytes><D:quota-used-bytes>${used}</D:quota-used-bytes></D:prop>`;
  t.equal(body.match(/<D:response\b/g)?.length, ENTRIES, `${ENTRIES} entries arrived`);
  t.equal(body.split(filled).length - 1, ENTRIES, 'every one with both figures in its 200 propstat');
  t.notMatch(body, /404 Not Found/, 'no 404 propstat left');
  // Undo the fill: what is left is the origin's answer less its 404 propstats, byte for byte.
  const origins = HEAD + Array.from({ length: ENTRIES }, (_, i) => entry(i).replace(MISSING, '\n')).join('') + TAIL;
  t.ok(body.split(filled).join('</D:prop>') === origins, 'every other byte as the origin sent it (the emptied propstat goes, its line break stays), entries in order');
});
