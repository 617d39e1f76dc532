import t from 'tap';
import { MultistatusReader } from '../src/admission/multistatus.js';

const read = (xml: string, pieces = 1): ReturnType<MultistatusReader['close']> => {
  const reader = new MultistatusReader();
  const step = Math.ceil(xml.length / pieces);
  for (let i = 0; i < xml.length; i += step) reader.write(xml.slice(i, i + step));
  return reader.close();
};

const answer = `<?xml version="1.0" encoding="utf-8"?>
<multistatus xmlns="DAV:" xmlns:x="urn:other">
  <response><href>/c/</href>
    <propstat><prop><resourcetype><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat>
    <propstat><prop><getcontentlength/></prop><status>HTTP/1.1 404 Not Found</status></propstat>
  </response>
  <lp1:response xmlns:lp1="DAV:"><lp1:href>/c/a%20b&amp;c.txt</lp1:href>
    <lp1:propstat><lp1:prop><lp1:resourcetype/><lp1:getcontentlength>1234</lp1:getcontentlength></lp1:prop><lp1:status>HTTP/1.1 200 OK</lp1:status></lp1:propstat>
  </lp1:response>
  <response><href><![CDATA[http://h/c/d/]]></href>
    <propstat><prop><resourcetype><x:collection/><collection/></resourcetype><getcontentlength>99</getcontentlength></prop><status>HTTP/1.1 200 OK</status></propstat>
  </response>
  <response><href>/c/gone</href>
    <propstat><prop><getcontentlength>777</getcontentlength></prop><status>HTTP/1.1 404 Not Found</status></propstat>
  </response>
  <x:response><x:href>/not-dav</x:href></x:response>
</multistatus>`;

t.test('a 207 is read by namespace, whatever the prefixes, in any number of pieces', async (t) => {
  const expected = [
    { href: '/c/', collection: true, length: 0 },
    { href: '/c/a%20b&c.txt', collection: false, length: 1234 },
    { href: 'http://h/c/d/', collection: true, length: 99 },
    { href: '/c/gone', collection: false, length: 0 },
  ];
  t.same(read(answer), expected, 'one piece; a 404 propstat’s length does not count; a foreign response is no resource');
  t.same(read(answer, 37), expected, 'in 37 pieces');
});

t.test('XML that is not well-formed throws', async (t) => {
  t.throws(() => read('<multistatus xmlns="DAV:"><response><href>/a</response></multistatus>'));
});
