import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv6 } from 'node:net';

/** Where the forwarding headers are written. */
export interface HeaderSink {
  set(name: string, value: string): void;
}

export interface ForwardingOptions {
  /** Write X-Forwarded-For, -Proto and -Host. */
  readonly xForwarded: boolean;
  /** Write RFC 7239 Forwarded. */
  readonly forwarded: boolean;
  /** Peers (CIDR) whose forwarding headers are believed and extended; others' are replaced. */
  readonly trustedProxies: readonly string[];
}

const X_FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'] as const;

/**
 * The forwarding headers toward origins. What a client says about where a
 * request came from is believed only from a configured proxy (a TLS
 * terminator in front, say): from it, X-Forwarded-Proto and -Host are kept
 * and this hop is appended to -For and Forwarded; from anyone else, they
 * are replaced with what this gateway saw.
 */
export class ForwardingHeaders {
  readonly #options: ForwardingOptions;
  readonly #trusted: BlockList;
  readonly #owned: ReadonlySet<string>;

  constructor(options: ForwardingOptions) {
    this.#options = options;
    this.#trusted = trustList(options.trustedProxies);
    this.#owned = new Set([...(options.xForwarded ? X_FORWARDED : []), ...(options.forwarded ? ['forwarded'] : [])]);
  }

  /** Whether the client's field of this (lower-case) name is replaced by `write`. */
  owns(lowerName: string): boolean {
    return this.#owned.has(lowerName);
  }

  trusts(address: string | undefined): boolean {
    if (address === undefined || this.#options.trustedProxies.length === 0) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return this.#trusted.check(mapped[1]!, 'ipv4');
    return this.#trusted.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
  }

  write(req: IncomingMessage, authority: string, head: HeaderSink): void {
    const client = req.socket.remoteAddress ?? '';
    const trusted = this.trusts(client);
    const prior = (name: string): string | undefined => (trusted ? joined(req.headers[name]) : undefined);
    if (this.#options.xForwarded) {
      const forFrom = prior('x-forwarded-for');
      head.set('X-Forwarded-For', forFrom ? `${forFrom}, ${client}` : client);
      head.set('X-Forwarded-Proto', prior('x-forwarded-proto') ?? 'http');
      head.set('X-Forwarded-Host', prior('x-forwarded-host') ?? authority);
    }
    if (this.#options.forwarded) {
      const element = `for=${forwardedNode(client)};host=${quoted(authority)};proto=http`;
      const before = prior('forwarded');
      head.set('Forwarded', before ? `${before}, ${element}` : element);
    }
  }
}

function trustList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/') as [string, string | undefined];
    const type = isIPv6(address) ? 'ipv6' : 'ipv4';
    list.addSubnet(address, bits === undefined ? (type === 'ipv6' ? 128 : 32) : Number(bits), type);
  }
  return list;
}

const joined = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);

/** RFC 7239 §6: an IPv6 node is bracketed and quoted. */
const forwardedNode = (address: string): string => (isIPv6(address) ? `"[${address}]"` : address);

const quoted = (value: string): string => (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`);
