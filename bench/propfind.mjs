// Part of `npm run bench` (also `node bench/propfind.mjs [runs]` on its own, after `npm run build`):
// a Depth 1 PROPFIND asking for the quota properties (docs/quota-properties.md), whose
// origin streams a multistatus of 100, 10,000 and 100,000 responses — each with the two
// properties in a 404 propstat, as Apache mod_dav answers — through the gateway, which fills
// them in as the body streams. Each size runs in a gateway process of its own, so that its
// peak RSS (VmHWM) is that answer's. Prints JSON on stdout.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePort, peakRssMiB, start, stop, waitForPort } from './lib/processes.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const RUNS = Number(process.argv[2] ?? 3);
// 300,000 past the brief's 100,000: the heap's working size (GC) is reached by then; what grows beyond it would be the answer held.
const SIZES = process.env.BENCH_PROPFIND_SIZES ? process.env.BENCH_PROPFIND_SIZES.split(',').map(Number) : [100, 10_000, 100_000, 300_000];
/** The largest answer again for a PROPFIND that does not ask for the quota properties: it passes untouched, for comparison. */
const UNTOUCHED = SIZES.at(-1);

// A gateway per answer, each with its exit hook (lib/processes.mjs).
process.setMaxListeners(32);
const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-propfind-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">\n';
const TAIL = '</D:multistatus>\n';
/** One member as Apache writes it: a 200 propstat with other properties, the quota ones in a 404 propstat. */
const entry = (i) => `<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">
<D:href>/big/file-${String(i).padStart(6, '0')}.bin</D:href>
<D:propstat>
<D:prop>
<lp1:resourcetype/>
<lp1:getcontentlength>${1000 + i}</lp1:getcontentlength>
<lp1:getlastmodified>Tue, 01 Dec 2026 12:00:00 GMT</lp1:getlastmodified>
<lp1:getetag>"${i.toString(16)}-5f0e3c"</lp1:getetag>
</D:prop>
<D:status>HTTP/1.1 200 OK</D:status>
</D:propstat>
<D:propstat>
<D:prop>
<ns0:quota-available-bytes/>
<ns0:quota-used-bytes/>
</D:prop>
<D:status>HTTP/1.1 404 Not Found</D:status>
</D:propstat>
</D:response>
`;

/** An origin that writes the multistatus of `?n=` entries as the client reads it (it never holds the answer either). */
const originPort = await freePort();
const origin = http.createServer((req, res) => {
  req.resume();
  const n = Number(new URL(req.url, 'http://x').searchParams.get('n'));
  res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8' });
  let i = 0;
  const more = () => {
    if (i === 0) res.write(HEAD);
    while (i < n) {
      // 64 entries a write: about 30 KiB.
      let piece = '';
      for (const end = Math.min(n, i + 64); i < end; i++) piece += entry(i);
      if (!res.write(piece)) return void res.once('drain', more);
    }
    res.end(TAIL);
  };
  more();
});
origin.listen(originPort, '127.0.0.1');
await waitForPort(originPort, 'the multistatus origin');

/** A gateway process in front of the origin, its route's volume measured locally (so the figures are fresh). */
async function gateway() {
  const port = await freePort();
  const file = path.join(dir, `headroom-${port}.yaml`);
  writeFileSync(file, YAML.stringify({
    listen: { host: '127.0.0.1', port },
    admin: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn' },
    origins: [{ name: 'dav', url: `http://127.0.0.1:${originPort}`, headroom: { local: { paths: [dir], capacity: '1GiB' } } }],
    routes: [{ match: { pathPrefix: '/' }, origin: 'dav' }],
  }));
  const child = start(process.execPath, [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), path.join(root, 'dist/src/cli.js'), 'proxy', '--config', file]);
  await waitForPort(port, 'Headroom');
  return { child, port };
}

const QUOTA = '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>';
const OTHER = '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/></D:prop></D:propfind>';

/**
 * One PROPFIND, read as it arrives: the answer's bytes, and its filled
 * entries counted on the fly (the client holds no more than the gateway may).
 */
function propfind(port, n, body = QUOTA) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'PROPFIND', path: `/big/?n=${n}`, headers: { depth: '1', 'content-type': 'application/xml; charset=utf-8', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let bytes = 0;
      let filled = 0;
      let tail = '';
      const mark = /<D:quota-available-bytes>\d+<\/D:quota-available-bytes><D:quota-used-bytes>\d+<\/D:quota-used-bytes><\/D:prop>\n<D:status>HTTP\/1.1 200 OK/g;
      res.setEncoding('utf8');
      res.on('data', (text) => {
        bytes += Buffer.byteLength(text);
        const seen = tail + text;
        const cut = seen.lastIndexOf('</D:response>');
        if (cut < 0) return void (tail = seen);
        filled += (seen.slice(0, cut).match(mark) ?? []).length;
        tail = seen.slice(cut);
      });
      res.on('end', () => resolve({ status: res.statusCode, bytes, filled }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** RUNS fresh gateways, one answer of `n` entries each: its peak RSS, MB/s, and the entries filled. */
async function measure(n, body) {
  const runs = [];
  for (let r = 0; r < RUNS; r++) {
    const { child, port } = await gateway();
    // A first small answer once the first snapshot is in (figures fresh), so that every size starts from the same warm process.
    for (let tries = 0; (await propfind(port, 1)).filled !== 1; tries++) {
      if (tries > 100) throw new Error('the gateway never filled the quota properties: no fresh snapshot?');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const started = process.hrtime.bigint();
    const answer = await propfind(port, n, body);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const peak = peakRssMiB(child.pid);
    await stop(child);
    const filled = body === QUOTA ? n : 0;
    if (answer.status !== 207 || answer.filled !== filled) throw new Error(`${n} entries: status ${answer.status}, ${answer.filled} filled (not ${filled})`);
    runs.push({ peakRssMiB: peak, answerMiB: answer.bytes / 1024 ** 2, mbps: answer.bytes / 1e6 / seconds });
  }
  const rss = runs.map((x) => x.peakRssMiB);
  const result = { peakRssMiB: median(rss), peakRssMin: Math.min(...rss), peakRssMax: Math.max(...rss), answerMiB: runs[0].answerMiB, mbps: median(runs.map((x) => x.mbps)), runs };
  console.error(`  PROPFIND, ${n} entries${body === QUOTA ? '' : ', quota not asked'}: peak RSS ${result.peakRssMiB.toFixed(1)} MiB (${result.answerMiB.toFixed(1)} MiB answer, ${result.mbps.toFixed(1)} MB/s)`);
  return result;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sizes = {};
for (const n of SIZES) sizes[n] = await measure(n, QUOTA);
const untouched = { entries: UNTOUCHED, ...(await measure(UNTOUCHED, OTHER)) };
origin.close();
console.log(JSON.stringify({ runs: RUNS, sizes, untouched }));
