import net from 'node:net';
import { once } from 'node:events';

export interface CountingRelay {
  readonly url: string;
  /** Bytes relayed toward the target (requests, heads and bodies). */
  readonly bytesToTarget: () => number;
  readonly connections: () => number;
  /** Connections from clients still open. */
  readonly open: () => number;
  close(): Promise<void>;
}

/**
 * A TCP relay in front of a server that counts every byte sent to it, so a
 * test can assert that nothing reached an origin it cannot instrument.
 */
export async function countingRelay(targetPort: number): Promise<CountingRelay> {
  let bytes = 0;
  let connections = 0;
  let open = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    connections++;
    open++;
    client.once('close', () => open--);
    const target = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(target);
    client.on('data', (d: Buffer) => (bytes += d.length));
    client.pipe(target).pipe(client);
    const close = () => {
      client.destroy();
      target.destroy();
      sockets.delete(client);
      sockets.delete(target);
    };
    client.on('error', close).on('close', close);
    target.on('error', close).on('close', close);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    bytesToTarget: () => bytes,
    connections: () => connections,
    open: () => open,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
