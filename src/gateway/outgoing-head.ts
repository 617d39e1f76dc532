import type { OutgoingHttpHeaders } from 'node:http';
import { HOP_BY_HOP, connectionNames } from '../http/hop-by-hop.js';
import { appendVia, viaEntry } from '../http/via.js';
import type { ForwardingHeaders } from '../http/forwarding.js';
import type { HeaderSink } from '../http/header-sink.js';
import { bodyFraming } from '../http/framing.js';
import type { Exchange } from '../exchange/exchange.js';
import type { HeadRule } from '../exchange/generation.js';

export interface HeadOptions {
  /** Pseudonym for Via, or null when Via is off. */
  readonly pseudonym: string | null;
  /** X-Forwarded-* and Forwarded: what is written, and what of the client's passes. */
  readonly forwarding: ForwardingHeaders;
}

/** Fields this module writes itself; the client's are never copied. */
const OWN = ['host', 'content-length', 'transfer-encoding', 'expect'];

/**
 * How every head is made, settled once: the client's fields that are never
 * copied (hop-by-hop, written here, or not believed), as one set for a
 * trusted peer and one for any other, so that each field costs one lookup.
 */
export class HeadRules implements HeadRule {
  readonly pseudonym: string | null;
  readonly forwarding: ForwardingHeaders;
  readonly #notCopied: ReadonlySet<string>;
  readonly #notCopiedFromTrusted: ReadonlySet<string>;

  constructor({ pseudonym, forwarding }: HeadOptions) {
    this.pseudonym = pseudonym;
    this.forwarding = forwarding;
    const always = [...HOP_BY_HOP, ...OWN, ...(pseudonym ? ['via'] : [])];
    this.#notCopied = new Set([...always, ...forwarding.dropped(false)]);
    this.#notCopiedFromTrusted = new Set([...always, ...forwarding.dropped(true)]);
  }

  /** The client's fields (lower-case names) that never reach the origin from this peer. */
  notCopied(trusted: boolean): ReadonlySet<string> {
    return trusted ? this.#notCopiedFromTrusted : this.#notCopied;
  }
}

/**
 * The request head an origin gets, decided in this one place: the target
 * exactly as the client sent it (under the origin's base path), the Host it
 * was routed by, the framing the gateway's parser used for the body
 * (chunked, or the Content-Length it counted to — never none while a body
 * follows), the client's end-to-end fields in their order, and what this
 * hop adds (Via, forwarding headers, trace context, the request id). The proxy engine is
 * handed these fields as the request's own (see Upstream.forward); only the
 * path is put on its request afterwards, before anything is written.
 */
export class OutgoingHead implements HeaderSink {
  readonly path: string;
  /** Fields by lower-case name, in the order the client sent them. */
  readonly fields: OutgoingHttpHeaders = {};

  /** `basePath`: the origin URL's own path, prefixed to every target ('' for none). */
  constructor(exchange: Exchange, rules: HeadRule, basePath: string) {
    const { req } = exchange;
    this.path = basePath + exchange.target!.originForm;
    const given = req.headers;
    const connection = given.connection;
    const listed = connection && connection !== 'keep-alive' && connection !== 'close' ? connectionNames(connection) : null;
    const { forwarding, pseudonym } = rules;
    const trusted = forwarding.trusts(req.socket.remoteAddress);
    const notCopied = rules.notCopied(trusted);
    const fields = this.fields;
    fields.host = exchange.authority;
    // Node's parser has every field (the door counted them) by lower-case
    // name, repeats joined or, for fields that allow one, the first kept.
    for (const name in given) {
      if (notCopied.has(name) || (listed !== null && listed.has(name))) continue;
      fields[name] = given[name];
    }
    const framing = bodyFraming(req);
    if (framing.kind === 'chunked') fields['transfer-encoding'] = 'chunked';
    else if (framing.kind === 'length') fields['content-length'] = String(framing.length);
    if (pseudonym) fields.via = appendVia(given.via, viaEntry(req.httpVersion, pseudonym));
    fields['x-request-id'] = exchange.requestId;
    forwarding.write(req, trusted, exchange.authority, this);
  }

  /** `name` in lower case, as every field here is. */
  set(name: string, value: string): void {
    this.fields[name] = value;
  }
}
