import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../src/index.js';
import { originStatusOf, type LeaseBook } from './lease.js';

/**
 * An end signal as the nginx snippet's access log sends it, the end of a
 * syslog line (docs/decision-endpoint.md#nginx-auth_request):
 * `lease=<id> status="<$upstream_status>"`, then ` token=<token>` when the
 * endpoint has one. nginx escapes `"` inside a variable, so the status
 * cannot close its quotes early.
 */
const SIGNAL = /\blease=([0-9a-f-]{36}) status="([^"]*)"(?: token=(\S+))?\s*$/;

/** What a datagram says: the lease to end and the origin's status; null for anything else (dropped). */
export function readEndSignal(datagram: string, token: string): { id: string; originStatus: number | undefined } | null {
  const said = SIGNAL.exec(datagram);
  if (said === null || !tokenMatches(said[3], token)) return null;
  return { id: said[1]!, originStatus: originStatusOf(said[2]!) };
}

function tokenMatches(given: string | undefined, token: string): boolean {
  if (token === '') return given === undefined;
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The UDP port nginx's `access_log syslog:` sends end signals to: one
 * datagram per finished write, no answer, nothing to parse but a line —
 * a fraction of an HTTP exchange. A lost datagram leaves the lease to end
 * by a snapshot or its time.
 */
export class EndSignals {
  /** Datagrams that were not end signals. */
  #ignored = 0;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly logger: Logger,
  ) {}

  static async open(host: string, port: number, leases: LeaseBook, token: () => string, logger: Logger): Promise<EndSignals> {
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    const signals = new EndSignals(socket, logger);
    socket.on('message', (message) => signals.receive(message.toString('latin1'), leases, token()));
    socket.bind(port, host);
    try {
      await Promise.race([once(socket, 'listening'), once(socket, 'error').then(([err]) => Promise.reject(err as Error))]);
    } catch (err) {
      socket.close();
      throw new Error(`decide: cannot receive end signals on ${host}:${port} (UDP): ${(err as Error).message}`);
    }
    socket.on('error', (err) => logger.warn({ err }, 'decide: the end signal socket failed'));
    return signals;
  }

  private receive(datagram: string, leases: LeaseBook, token: string): void {
    const signal = readEndSignal(datagram, token);
    if (signal === null) {
      // A line that is not a signal, or without the token: said once in a while, not per datagram.
      if (this.#ignored++ % 1000 === 0) this.logger.warn({ ignored: this.#ignored }, 'decide: a datagram on the end signal port is not an end signal (or lacks the token); it was ignored');
      return;
    }
    leases.end(signal.id, 'signal', signal.originStatus).catch(() => undefined);
  }

  address(): { address: string; port: number } {
    const { address, port } = this.socket.address();
    return { address, port };
  }

  async close(): Promise<void> {
    const closed = once(this.socket, 'close');
    this.socket.close();
    await closed;
  }
}
