import { Transform, type TransformCallback } from 'node:stream';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { QUOTA_PROPERTIES, type QuotaProperty } from './asked.js';

/** The figures a filled-in property states, in bytes. */
export type QuotaFigures = Readonly<Record<QuotaProperty, number>>;

const DAV = 'DAV:';
/** One `DAV:response` is held while it is read; one larger passes as it is, and so does the rest. */
const RESPONSE_LIMIT = 1024 * 1024;

/** A `DAV:propstat` of the response being read; offsets are absolute, in UTF-16 code units of the body. */
interface Propstat {
  readonly start: number;
  end: number;
  status: number | null;
  /** Start of the prop element's closing tag, and the prefix its name was written with. */
  propClose: number;
  propPrefix: string;
  /** The prop's child elements: quota ones by name, and how many others. */
  quota: Array<{ readonly name: QuotaProperty; readonly start: number; end: number }>;
  others: number;
}

/**
 * Fills RFC 4331 quota properties into a 207 Multi-Status body as it
 * streams: a quota property the origin listed in a 404 propstat moves to a
 * 200 propstat of the same response with the gateway's figure (the
 * response's 200 propstat, or a new one where the 404 propstat was), and a
 * 404 propstat left empty is dropped. Only those propstats are written
 * anew; every other byte passes as the origin sent it. Anything the
 * transform cannot read as UTF-8 XML, or a response larger than it holds,
 * ends the filling: the rest passes untouched.
 */
export class QuotaFill extends Transform {
  readonly #figures: QuotaFigures;
  readonly #asked: ReadonlySet<QuotaProperty>;
  readonly #parser = new SaxesParser({ xmlns: true });
  readonly #decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** The bytes of a character cut at the last chunk's end. */
  #carry: Buffer = Buffer.alloc(0);
  /** Decoded text not yet passed on, starting at absolute offset #base. */
  #text = '';
  #base = 0;
  readonly #open: Array<string | null> = [];
  #response: { start: number; prefix: string; propstats: Propstat[] } | null = null;
  #propstat: Propstat | null = null;
  #statusText: string | null = null;
  #passing = false;

  constructor(figures: QuotaFigures, asked: ReadonlySet<QuotaProperty>) {
    super();
    this.#figures = figures;
    this.#asked = asked;
    const parser = this.#parser;
    parser.on('opentag', (tag) => this.#opened(tag));
    parser.on('closetag', () => this.#closed());
    parser.on('text', (text) => {
      if (this.#statusText !== null) this.#statusText += text;
    });
    parser.on('error', () => this.#giveUp());
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#passing) return done(null, chunk);
    const bytes = this.#carry.length > 0 ? Buffer.concat([this.#carry, chunk]) : chunk;
    const whole = completeLength(bytes);
    let text: string;
    try {
      text = this.#decoder.decode(bytes.subarray(0, whole));
    } catch {
      // Not UTF-8: what is held is exact text, the bytes go as they came.
      this.#carry = bytes;
      this.#giveUp();
      return done();
    }
    this.#carry = bytes.subarray(whole);
    this.#text += text;
    this.#parser.write(text);
    if (this.#passing) return done();
    if (this.#response === null) {
      // A tag may be cut at the chunk's end: hold from its "<" on.
      const cut = this.#text.lastIndexOf('<');
      this.#emit(cut === -1 ? this.#text.length : cut);
    } else if (this.#text.length > RESPONSE_LIMIT) {
      this.#giveUp();
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.#giveUp();
    done();
  }

  #opened(tag: SaxesTagNS): void {
    if (this.#passing) return;
    const name = tag.uri === DAV ? tag.local : null;
    const parent = this.#open.at(-1);
    this.#open.push(name);
    const at = this.#parser.position;
    if (name === 'response' && this.#open.length === 2 && this.#open[0] === 'multistatus') {
      this.#response = { start: this.#tagStart(at), prefix: tag.prefix, propstats: [] };
    } else if (this.#response === null) {
      return;
    } else if (name === 'propstat' && parent === 'response') {
      this.#propstat = { start: this.#tagStart(at), end: 0, status: null, propClose: 0, propPrefix: '', quota: [], others: 0 };
    } else if (this.#propstat === null) {
      return;
    } else if (name === 'status' && parent === 'propstat') {
      this.#statusText = '';
    } else if (parent === 'prop' && this.#open.length === 5) {
      if (name !== null && QUOTA_PROPERTIES.has(name)) this.#propstat.quota.push({ name: name as QuotaProperty, start: this.#tagStart(at), end: 0 });
      else this.#propstat.others++;
    } else if (name === 'prop' && parent === 'propstat') {
      this.#propstat.propPrefix = tag.prefix;
    }
  }

  #closed(): void {
    if (this.#passing) return;
    const depth = this.#open.length;
    const name = this.#open.pop() ?? null;
    const at = this.#parser.position;
    const propstat = this.#propstat;
    if (propstat !== null) {
      if (depth === 5 && name !== null && QUOTA_PROPERTIES.has(name) && propstat.quota.at(-1)?.end === 0) propstat.quota.at(-1)!.end = at;
      else if (depth === 4 && name === 'prop') propstat.propClose = this.#tagStart(at);
      else if (depth === 4 && name === 'status' && this.#statusText !== null) {
        const match = /^\s*HTTP\/\d(?:\.\d)?\s+(\d{3})\b/.exec(this.#statusText);
        propstat.status = match ? Number(match[1]) : null;
        this.#statusText = null;
      } else if (depth === 3 && name === 'propstat') {
        propstat.end = at;
        this.#response!.propstats.push(propstat);
        this.#propstat = null;
      }
    } else if (depth === 2 && name === 'response' && this.#response !== null) {
      this.#finishResponse(at);
    }
  }

  /** The held response is whole: write it with its quota properties moved, and pass it on. */
  #finishResponse(end: number): void {
    const response = this.#response!;
    this.#response = null;
    this.#emit(response.start - this.#base);
    const body = this.#text.slice(0, end - this.#base);
    this.#text = this.#text.slice(end - this.#base);
    const from = this.#base;
    this.#base = end;
    this.push(Buffer.from(this.#edited(response, body, from), 'utf8'));
  }

  #edited(response: { start: number; prefix: string; propstats: Propstat[] }, body: string, from: number): string {
    const missing = response.propstats.filter((p) => p.status === 404 && p.quota.some((q) => this.#asked.has(q.name)));
    if (missing.length === 0) return body;
    const filled = new Set<QuotaProperty>();
    const edits: Array<{ start: number; end: number; text: string }> = [];
    for (const propstat of missing) {
      const moved = propstat.quota.filter((q) => this.#asked.has(q.name));
      for (const q of moved) filled.add(q.name);
      if (propstat.others === 0 && moved.length === propstat.quota.length) edits.push({ start: propstat.start, end: propstat.end, text: '' });
      else for (const q of moved) edits.push({ start: q.start, end: q.end, text: '' });
    }
    const ok = response.propstats.find((p) => p.status === 200 && p.propClose > 0);
    if (ok) {
      edits.push({ start: ok.propClose, end: ok.propClose, text: this.#properties(filled, ok.propPrefix) });
    } else {
      const p = response.prefix ? `${response.prefix}:` : '';
      const text = `<${p}propstat><${p}prop>${this.#properties(filled, response.prefix)}</${p}prop><${p}status>HTTP/1.1 200 OK</${p}status></${p}propstat>`;
      edits.push({ start: missing[0]!.start, end: missing[0]!.start, text });
    }
    // Applied from the end, so each edit's offsets still hold; at the same place, a removal goes before an insertion.
    edits.sort((a, b) => b.start - a.start || (b.end - b.start) - (a.end - a.start));
    let out = body;
    for (const edit of edits) out = out.slice(0, edit.start - from) + edit.text + out.slice(edit.end - from);
    return out;
  }

  /** The filled properties, named with `prefix` (bound to DAV: where they go). */
  #properties(names: ReadonlySet<QuotaProperty>, prefix: string): string {
    const p = prefix ? `${prefix}:` : '';
    return [...names].map((name) => `<${p}${name}>${this.#figures[name]}</${p}${name}>`).join('');
  }

  /** Where the tag that ends just before `at` begins (no "<" can stand inside a tag). */
  #tagStart(at: number): number {
    return this.#base + this.#text.lastIndexOf('<', at - this.#base - 1);
  }

  /** Passes on the first `length` code units of the held text. */
  #emit(length: number): void {
    if (length <= 0) return;
    this.push(Buffer.from(this.#text.slice(0, length), 'utf8'));
    this.#text = this.#text.slice(length);
    this.#base += length;
  }

  /** From here on, everything passes as it is. */
  #giveUp(): void {
    if (this.#passing) return;
    this.#passing = true;
    this.#response = null;
    this.#propstat = null;
    this.#emit(this.#text.length);
    if (this.#carry.length > 0) this.push(this.#carry);
    this.#carry = Buffer.alloc(0);
  }
}

/** How many leading bytes of `bytes` end on a character boundary (a UTF-8 sequence cut at the end is left out). */
function completeLength(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const needs = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needs > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}
