import type { IncomingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1, plus the legacy names proxies still meet. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/**
 * Deletes, in place, the hop-by-hop headers and every header the
 * `Connection` header names. Message framing is left to Node, which
 * re-frames each side (chunked or Content-Length) on its own.
 */
export function stripHopByHop(headers: IncomingHttpHeaders): void {
  const connection = headers.connection;
  if (connection) {
    for (const name of connection.split(',')) {
      const key = name.trim().toLowerCase();
      if (key) delete headers[key];
    }
  }
  for (const name of HOP_BY_HOP) delete headers[name];
}
