import type { OutgoingHttpHeaders } from 'node:http';
import { HOP_BY_HOP, connectionNames } from '../http/hop-by-hop.js';
import { appendVia, viaEntry } from '../http/via.js';
import type { ForwardingHeaders } from '../http/forwarding.js';
import type { HeaderSink } from '../http/header-sink.js';
import { bodyFraming } from '../http/framing.js';
import type { Exchange } from '../exchange/exchange.js';

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
 * follows), the client's end-to-end fields in their order, and what this
 * hop adds (Via, forwarding headers, trace context). The proxy engine is
 * handed these fields as the request's own (see Upstream.forward); only the
 * path is put on its request afterwards, before anything is written.
 */
export class OutgoingHead implements HeaderSink {
  readonly path: string;
  /** Fields by lower-case name, in the order the client sent them. */
  readonly fields: OutgoingHttpHeaders = {};

  constructor(exchange: Exchange, options: HeadOptions) {
    const { req } = exchange;
    this.path = options.basePath + exchange.target!.originForm;
    const connection = req.headers.connection;
    const listed = connection && connection !== 'keep-alive' && connection !== 'close' ? connectionNames(connection) : null;
    const forwarding = options.forwarding;
    const trusted = forwarding.trusts(req.socket.remoteAddress);
    const fields = this.fields;
    fields.host = exchange.authority;
    // Node's parser has every field (the door counted them) by lower-case
    // name, repeats joined or, for fields that allow one, the first kept.
    const given = req.headers;
    for (const name in given) {
      if (HOP_BY_HOP.has(name) || OWN.has(name) || listed?.has(name) || forwarding.drops(name, trusted)) continue;
      if (name === 'via' && options.pseudonym) continue;
      fields[name] = given[name];
    }
    const framing = bodyFraming(req);
    if (framing.kind === 'chunked') fields['transfer-encoding'] = 'chunked';
    else if (framing.kind === 'length') fields['content-length'] = String(framing.length);
    if (options.pseudonym) fields.via = appendVia(req.headers.via, viaEntry(req.httpVersion, options.pseudonym));
    forwarding.write(req, trusted, exchange.authority, this);
  }

  /** `name` in lower case, as every field here is. */
  set(name: string, value: string): void {
    this.fields[name] = value;
  }
}
