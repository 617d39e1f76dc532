import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv6 } from 'node:net';
import type { HeaderSink } from './header-sink.js';

export interface ForwardingOptions {
  /** Write X-Forwarded-For, -Proto and -Host. */
  readonly xForwarded: boolean;
  /** Write RFC 7239 Forwarded. */
  readonly forwarded: boolean;
  /** Peers (CIDR) whose forwarding headers are believed and extended; others' are replaced. */
  readonly trustedProxies: readonly string[];
}

/** Every field in which a client can claim where a request came from. */
const CLAIMS: ReadonlySet<string> = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-ssl',
  'x-forwarded-scheme',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
]);
const X_FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'];

/**
 * The forwarding headers toward origins. What a client says about where a
 * request came from is believed only from a configured proxy (a TLS
 * terminator in front, say): from it, X-Forwarded-Proto and -Host are kept,
 * this hop is appended to -For and Forwarded, and its other claims pass;
 * from anyone else, every such claim is dropped and the fields this gateway
 * writes say what it saw.
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

  /** The client's fields (lower-case names) that are not copied: `write` replaces them, or the client is not believed. */
  dropped(trusted: boolean): string[] {
    return [...this.#owned, ...(trusted ? [] : CLAIMS)];
  }

  trusts(address: string | undefined): boolean {
    if (address === undefined || this.#options.trustedProxies.length === 0) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return this.#trusted.check(mapped[1]!, 'ipv4');
    return this.#trusted.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
  }

  /** Writes this hop's fields; `trusted`: the peer is a trusted proxy (see `trusts`). */
  write(req: IncomingMessage, trusted: boolean, authority: string, head: HeaderSink): void {
    const client = req.socket.remoteAddress ?? '';
    const given = trusted ? req.headers : NOTHING;
    if (this.#options.xForwarded) {
      const forFrom = joined(given['x-forwarded-for']);
      head.set('x-forwarded-for', forFrom ? `${forFrom}, ${client}` : client);
      head.set('x-forwarded-proto', joined(given['x-forwarded-proto']) ?? 'http');
      head.set('x-forwarded-host', joined(given['x-forwarded-host']) ?? authority);
    }
    if (this.#options.forwarded) {
      const element = `for=${forwardedNode(client)};host=${quoted(authority)};proto=http`;
      const before = joined(given.forwarded);
      head.set('forwarded', before ? `${before}, ${element}` : element);
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

const NOTHING: IncomingMessage['headers'] = {};

const joined = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);

/** RFC 7239 §6: an IPv6 node is bracketed and quoted. */
const forwardedNode = (address: string): string => (isIPv6(address) ? `"[${address}]"` : address);

const quoted = (value: string): string => (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`);
