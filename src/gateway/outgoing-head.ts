import type { ClientRequest } from 'node:http';
import { HOP_BY_HOP, connectionNames } from '../http/hop-by-hop.js';
import { appendVia, viaEntry } from '../http/via.js';
import type { ForwardingHeaders } from '../http/forwarding.js';
import type { HeaderSink } from '../http/header-sink.js';
import { bodyFraming } from '../http/framing.js';
import type { Exchange } from './exchange.js';

export interface HeadOptions {
  /** Pseudonym for Via, or null when Via is off. */
  readonly pseudonym: string | null;
  /** X-Forwarded-* and Forwarded: what is written, and what of the client's passes. */
  readonly forwarding: ForwardingHeaders;
  /** The origin URL's own path, prefixed to every target ('' for none). */
  readonly basePath: string;
}

/** Fields this module writes itself; the client's are never copied. */
const OWN = new Set(['host', 'content-length', 'transfer-encoding', 'expect']);

/**
 * The request head an origin gets, decided in this one place: the target
 * exactly as the client sent it (under the origin's base path), the Host it
 * was routed by, the framing the gateway's parser used for the body
 * (chunked, or the Content-Length it counted to — never none while a body
 * follows), the client's end-to-end fields in their order and spelling, and
 * what this hop adds (Via, forwarding headers, trace context).
 */
export class OutgoingHead implements HeaderSink {
  readonly path: string;
  /** Field name as spelt → values, in the order first seen. */
  readonly #fields = new Map<string, { name: string; values: string[] }>();

  constructor(exchange: Exchange, options: HeadOptions) {
    const { req } = exchange;
    this.path = options.basePath + exchange.target!.originForm;
    const connection = req.headers.connection;
    const listed = connection && connection !== 'keep-alive' && connection !== 'close' ? connectionNames(connection) : null;
    const raw = req.rawHeaders;
    const forwarding = options.forwarding;
    const trusted = forwarding.trusts(req.socket.remoteAddress);
    this.set('Host', exchange.authority);
    for (let i = 0; i < raw.length; i += 2) {
      const lower = raw[i]!.toLowerCase();
      if (HOP_BY_HOP.has(lower) || OWN.has(lower) || listed?.has(lower) || forwarding.drops(lower, trusted)) continue;
      if (lower === 'via' && options.pseudonym) continue;
      this.append(raw[i]!, raw[i + 1]!);
    }
    const framing = bodyFraming(req);
    if (framing.kind === 'chunked') this.set('Transfer-Encoding', 'chunked');
    else if (framing.kind === 'length') this.set('Content-Length', String(framing.length));
    if (options.pseudonym) this.set('Via', appendVia(req.headers.via, viaEntry(req.httpVersion, options.pseudonym)));
    forwarding.write(req, trusted, exchange.authority, this);
  }

  get(name: string): string | undefined {
    return this.#fields.get(name.toLowerCase())?.values.join(', ');
  }

  set(name: string, value: string): void {
    this.#fields.set(name.toLowerCase(), { name, values: [value] });
  }

  append(name: string, value: string): void {
    const field = this.#fields.get(name.toLowerCase());
    if (field) field.values.push(value);
    else this.#fields.set(name.toLowerCase(), { name, values: [value] });
  }

  /**
   * Puts this head on a request to the origin before any of it is written,
   * replacing whatever the proxy engine derived from the client's request.
   */
  applyTo(request: ClientRequest): void {
    for (const name of request.getHeaderNames()) request.removeHeader(name);
    for (const { name, values } of this.#fields.values()) request.setHeader(name, values.length === 1 ? values[0]! : values);
    request.path = this.path;
  }
}
