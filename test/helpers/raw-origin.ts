import net from 'node:net';
import { once } from 'node:events';

/** One request as a strict HTTP/1.1 reader framed it. */
export interface ReceivedRequest {
  readonly method: string;
  readonly target: string;
  /** Field lines in order, names as spelt. */
  readonly fields: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
  /** How the body was framed on the wire. */
  readonly framing: 'none' | 'chunked' | 'length';
}

export interface RawOrigin {
  readonly port: number;
  readonly url: string;
  /** Complete requests, in the order they were read. */
  readonly requests: ReceivedRequest[];
  /** Byte streams that did not parse as HTTP/1.1 requests (a desync, or an unframed body). */
  readonly garbage: string[];
  /** Requests whose bytes stopped before they were complete. */
  incomplete: number;
  /** Every byte received, over all connections. */
  bytes: number;
  close(): Promise<void>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

class Malformed extends Error {}

/**
 * An origin that logs every byte it receives and reads requests by the
 * letter of RFC 9112 (CRLF only, no obs-fold, one framing), answering each
 * with 200. Whatever does not parse is kept as garbage, so that a request
 * smuggled inside another's body, or a body sent unframed, shows.
 */
export async function startRawOrigin(): Promise<RawOrigin> {
  const sockets = new Set<net.Socket>();
  const origin = {
    requests: [] as ReceivedRequest[],
    garbage: [] as string[],
    incomplete: 0,
    bytes: 0,
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buffer: Buffer = Buffer.alloc(0);
    let broken = false;
    socket.on('data', (data: Buffer) => {
      origin.bytes += data.length;
      if (broken) return;
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        let read: { request: ReceivedRequest; rest: Buffer } | null;
        try {
          read = readRequest(buffer);
        } catch {
          broken = true;
          origin.garbage.push(buffer.toString('latin1'));
          socket.destroy();
          return;
        }
        if (read === null) return;
        origin.requests.push(read.request);
        buffer = read.rest;
        socket.write(`HTTP/1.1 200 OK\r\nX-Raw-Origin: 1\r\nContent-Length: 2\r\n\r\n${read.request.method === 'HEAD' ? '' : 'ok'}`);
      }
    });
    socket.on('close', () => {
      sockets.delete(socket);
      if (!broken && buffer.length > 0) origin.incomplete++;
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return Object.assign(origin, {
    port,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  });
}

/** One request from the front of `buffer`, null when it is not all there yet; throws Malformed. */
function readRequest(buffer: Buffer): { request: ReceivedRequest; rest: Buffer } | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end === -1) {
    if (/[^\r]\n|\r[^\n]/.test(buffer.toString('latin1'))) throw new Malformed('bare LF or CR');
    return null;
  }
  const head = buffer.subarray(0, end).toString('latin1');
  if (/[^\r]\n|\r[^\n]|^\n/.test(head)) throw new Malformed('bare LF or CR');
  const [line, ...fieldLines] = head.split('\r\n');
  const requestLine = /^([A-Z]+) (\S+) HTTP\/1\.1$/.exec(line!);
  if (!requestLine) throw new Malformed(`request line ${JSON.stringify(line)}`);
  const fields: Array<[string, string]> = [];
  for (const fieldLine of fieldLines) {
    const colon = fieldLine.indexOf(':');
    const name = fieldLine.slice(0, colon);
    const value = fieldLine.slice(colon + 1).trim();
    if (colon <= 0 || !TOKEN.test(name) || /[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw new Malformed(`field ${JSON.stringify(fieldLine)}`);
    fields.push([name, value]);
  }
  const all = (name: string) => fields.filter(([n]) => n.toLowerCase() === name);
  const te = all('transfer-encoding');
  const cl = all('content-length');
  if (all('host').length !== 1) throw new Malformed('Host');
  let offset = end + 4;
  if (te.length > 0) {
    if (te.length > 1 || cl.length > 0 || te[0]![1].toLowerCase() !== 'chunked') throw new Malformed('framing');
    const chunks: Buffer[] = [];
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', offset);
      if (lineEnd === -1) return null;
      const size = /^([0-9a-fA-F]{1,8})(;[^\r\n]*)?$/.exec(buffer.subarray(offset, lineEnd).toString('latin1'));
      if (!size) throw new Malformed('chunk size');
      const length = parseInt(size[1]!, 16);
      offset = lineEnd + 2;
      if (length === 0) {
        // Trailer fields, then the empty line.
        for (;;) {
          const trailerEnd = buffer.indexOf('\r\n', offset);
          if (trailerEnd === -1) return null;
          const trailer = buffer.subarray(offset, trailerEnd).toString('latin1');
          offset = trailerEnd + 2;
          if (trailer === '') break;
          if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/.test(trailer)) throw new Malformed('trailer');
        }
        break;
      }
      if (buffer.length < offset + length + 2) return null;
      chunks.push(buffer.subarray(offset, offset + length));
      if (buffer.subarray(offset + length, offset + length + 2).toString('latin1') !== '\r\n') throw new Malformed('chunk end');
      offset += length + 2;
    }
    return { request: { method: requestLine[1]!, target: requestLine[2]!, fields, body: Buffer.concat(chunks), framing: 'chunked' }, rest: buffer.subarray(offset) };
  }
  if (cl.length > 1 || (cl.length === 1 && !/^\d+$/.test(cl[0]![1]))) throw new Malformed('Content-Length');
  const length = cl.length === 1 ? Number(cl[0]![1]) : 0;
  if (buffer.length < offset + length) return null;
  const body = buffer.subarray(offset, offset + length);
  return { request: { method: requestLine[1]!, target: requestLine[2]!, fields, body, framing: cl.length ? 'length' : 'none' }, rest: buffer.subarray(offset + length) };
}
