import t from 'tap';
import { configFor, startTestGateway } from './helpers/gateway.js';
import { rawExchange } from './helpers/http.js';
import { startRawOrigin } from './helpers/raw-origin.js';

/**
 * What a client that is not a trusted proxy says about where a request came
 * from must not reach an origin as if this hop had said it. Only the family
 * the gateway writes is replaced: with the defaults (X-Forwarded-* on,
 * Forwarded off) a client's `Forwarded: for=…;proto=https` goes through
 * unchanged beside the gateway's X-Forwarded-For, and with Forwarded on and
 * X-Forwarded-* off, the client's X-Forwarded-For and -Proto do. Origins that
 * read the other family (Forwarded is what RFC 7239 frameworks read; many
 * read X-Forwarded-* whatever is configured here) believe the client.
 */

const CRLF = '\r\n';
const spoofing = `GET /e HTTP/1.1${CRLF}Host: h${CRLF}Forwarded: for=10.9.9.9;proto=https${CRLF}X-Forwarded-For: 10.9.9.9${CRLF}X-Forwarded-Proto: https${CRLF}X-Forwarded-Host: admin.internal${CRLF}Connection: close${CRLF}${CRLF}`;

for (const [name, headers] of [
  ['defaults (X-Forwarded-* only)', {}],
  ['Forwarded only', { xForwarded: false, forwarded: true }],
] as const) {
  t.test(`${name}: an untrusted client's forwarding claims never reach the origin`, async (t) => {
    const origin = await startRawOrigin();
    t.teardown(() => origin.close());
    const gateway = await startTestGateway(configFor(origin.url, { log: { level: 'silent' }, headers }));
    t.teardown(() => gateway.shutdown());
    await rawExchange(gateway.port, spoofing, 200);
    await gateway.shutdown();
    const fields = origin.requests[0]?.fields ?? [];
    t.equal(origin.requests.length, 1);
    t.notOk(fields.some(([, v]) => v.includes('10.9.9.9') || v.includes('https') || v.includes('admin.internal')), `no client claim among ${JSON.stringify(fields)}`);
  });
}
