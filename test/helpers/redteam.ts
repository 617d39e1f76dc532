import net from 'node:net';
import { until } from './http.js';

/** One step of a raw conversation: bytes to write, or a condition (on what came back so far) to wait for first. */
export type Turn = string | Buffer | ((received: string) => boolean);

/**
 * Writes each turn on one connection to `port` (waiting for the conditions
 * between them, so that bytes go in separate segments), then reads until the
 * server closes or `idleMs` pass without data; returns what came back.
 */
export async function converse(port: number, turns: readonly Turn[], idleMs = 300): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  for (const turn of turns) {
    if (typeof turn === 'function') await until(() => turn(received), 'the next turn');
    else if (!socket.destroyed) socket.write(typeof turn === 'string' ? Buffer.from(turn, 'latin1') : turn);
  }
  let seen = -1;
  while (!closed && seen !== received.length) {
    seen = received.length;
    await new Promise((r) => setTimeout(r, idleMs));
  }
  socket.destroy();
  return received;
}

/** Status codes of every response in a raw answer, in order. */
export const statusesOf = (raw: string): number[] => [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
