import t from 'tap';
import { QuotaFill, type QuotaFigures } from '../src/quota/fill-multistatus.js';
import { QuotaAsked, type QuotaProperty } from '../src/quota/asked.js';

const FIGURES: QuotaFigures = { 'quota-available-bytes': 12345, 'quota-used-bytes': 678 };
const BOTH = new Set<QuotaProperty>(['quota-available-bytes', 'quota-used-bytes']);

/** Feeds `body` to a fill in pieces of `size` bytes (every boundary when 1). */
async function fill(body: Buffer | string, size: number, asked: ReadonlySet<QuotaProperty> = BOTH): Promise<string> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const transform = new QuotaFill(FIGURES, asked);
  const out: Buffer[] = [];
  transform.on('data', (d: Buffer) => out.push(d));
  const ended = new Promise((resolve) => transform.on('end', resolve));
  for (let i = 0; i < bytes.length; i += size) transform.write(bytes.subarray(i, i + size));
  transform.end();
  await ended;
  return Buffer.concat(out).toString('latin1');
}

// As Apache mod_dav writes it (prefixes, line breaks), with a non-ASCII href.
const apache = `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">
<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">
<D:href>/d\u00e9j\u00e0/\u{1F4C1}/</D:href>
<D:propstat>
<D:prop>
<lp1:resourcetype><D:collection/></lp1:resourcetype>
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
<D:response xmlns:lp1="DAV:"><D:href>/x</D:href><D:propstat><D:prop><ns0:quota-used-bytes/><D:nope/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>
</D:multistatus>
`;

const expected = Buffer.from(`<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">
<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">
<D:href>/d\u00e9j\u00e0/\u{1F4C1}/</D:href>
<D:propstat>
<D:prop>
<lp1:resourcetype><D:collection/></lp1:resourcetype>
<D:quota-available-bytes>12345</D:quota-available-bytes><D:quota-used-bytes>678</D:quota-used-bytes></D:prop>
<D:status>HTTP/1.1 200 OK</D:status>
</D:propstat>

</D:response>
<D:response xmlns:lp1="DAV:"><D:href>/x</D:href><D:propstat><D:prop><D:quota-used-bytes>678</D:quota-used-bytes></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat><D:propstat><D:prop><D:nope/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>
</D:multistatus>
`).toString('latin1');

t.test('quota properties move from the 404 propstat to a 200 one, split at every byte boundary alike', async (t) => {
  t.equal(await fill(apache, 1 << 20), expected, 'in one piece');
  t.equal(await fill(apache, 1), expected, 'in 1-byte pieces');
  t.equal(await fill(apache, 7), expected, 'in 7-byte pieces');
});

t.test('a response without a 200 propstat gets one where its emptied 404 propstat was', async (t) => {
  const lacking = '<m:multistatus xmlns:m="DAV:"><m:response><m:href>/</m:href>\n <m:propstat><m:prop><m:quota-available-bytes/></m:prop><m:status>HTTP/1.1 404 Not Found</m:status></m:propstat>\n</m:response></m:multistatus>';
  const made = '<m:multistatus xmlns:m="DAV:"><m:response><m:href>/</m:href>\n <m:propstat><m:prop><m:quota-available-bytes>12345</m:quota-available-bytes></m:prop><m:status>HTTP/1.1 200 OK</m:status></m:propstat>\n</m:response></m:multistatus>';
  for (const size of [1, 1 << 20]) t.equal(await fill(lacking, size), made, `pieces of ${size}`);
});

t.test('only what was asked is filled', async (t) => {
  const out = await fill(apache, 1, new Set<QuotaProperty>(['quota-used-bytes']));
  t.match(out, /<ns0:quota-available-bytes\/>\n\n<\/D:prop>\n<D:status>HTTP\/1.1 404 Not Found/, 'the unasked one stays in its 404 propstat');
  t.match(out, /<D:quota-used-bytes>678<\/D:quota-used-bytes><\/D:prop>\n<D:status>HTTP\/1.1 200 OK/);
});

t.test('a body without quota properties in a 404 propstat passes byte for byte', async (t) => {
  const own = `<?xml version="1.0"?>\r\n<multistatus xmlns="DAV:"><!-- <response> -->
<response><href>/a</href><propstat><prop><quota-available-bytes>1</quota-available-bytes><quota-used-bytes>2</quota-used-bytes></prop><status>HTTP/1.1 200 OK</status></propstat></response>
<response><href>/b</href><propstat><prop><getetag/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>`;
  for (const size of [1, 3, 1 << 20]) t.equal(await fill(own, size), Buffer.from(own).toString('latin1'), `pieces of ${size}`);
});

t.test('what is not UTF-8 XML passes as it came', async (t) => {
  const broken = Buffer.concat([Buffer.from(apache.slice(0, 200)), Buffer.from([0xff, 0xfe]), Buffer.from(apache.slice(200))]);
  for (const size of [1, 5, 1 << 20]) t.equal(await fill(broken, size), broken.toString('latin1'), `invalid UTF-8, pieces of ${size}`);
  const notXml = `<D:multistatus xmlns:D="DAV:"><D:response><D:href>/</D:href></D:propstat>`;
  t.equal(await fill(notXml + apache, 1), Buffer.from(notXml + apache).toString('latin1'), 'malformed');
});

t.test('a PROPFIND body asks by name, in prop or include; allprop alone does not', async (t) => {
  const asked = (xml: string, size = 1, limit = 65536): string[] => {
    const watch = new QuotaAsked(limit);
    const bytes = Buffer.from(xml);
    for (let i = 0; i < bytes.length; i += size) watch.write(bytes.subarray(i, i + size));
    t.same([...watch.asked], [], 'nothing before the end');
    watch.end();
    return [...watch.asked].sort();
  };
  t.same(asked('<?xml version="1.0"?><a:propfind xmlns:a="DAV:"><a:prop><a:quota-available-bytes/><a:quota-used-bytes/></a:prop></a:propfind>'), ['quota-available-bytes', 'quota-used-bytes']);
  t.same(asked('<propfind xmlns="DAV:"><prop><getetag/><quota-used-bytes/></prop></propfind>'), ['quota-used-bytes']);
  t.same(asked('<propfind xmlns="DAV:"><allprop/></propfind>'), []);
  t.same(asked('<propfind xmlns="DAV:"><allprop/><include><quota-available-bytes/></include></propfind>'), ['quota-available-bytes']);
  t.same(asked('<propfind xmlns="DAV:"><prop><x:quota-used-bytes xmlns:x="urn:not-dav"/></prop></propfind>'), []);
  t.same(asked('<propfind xmlns="DAV:"><prop><quota-used-bytes/></prop>'), [], 'not well-formed');
  t.same(asked('<propfind xmlns="DAV:"><prop><quota-used-bytes/></prop></propfind>', 1, 20), [], 'past the limit');
});
