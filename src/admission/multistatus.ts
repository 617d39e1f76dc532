import { SaxesParser, type SaxesTagNS } from 'saxes';

/** One resource of a WebDAV 207 Multi-Status answer, as a COPY's size needs it. */
export interface MultistatusEntry {
  /** As listed: a path or a full URL, still percent-encoded. */
  readonly href: string;
  readonly collection: boolean;
  /** getcontentlength, 0 when not given. */
  readonly length: number;
}

const DAV = 'DAV:';

/**
 * Reads a 207 Multi-Status body (RFC 4918 §14.16) as it streams, by
 * namespace rather than by prefix. Only properties of a propstat whose
 * status is 2xx count: a 404 propstat names what the resource lacks.
 */
export class MultistatusReader {
  readonly entries: MultistatusEntry[] = [];
  readonly #parser = new SaxesParser({ xmlns: true });
  /** Local names of the open DAV: elements, innermost last (null for foreign ones). */
  readonly #open: Array<string | null> = [];
  #text = '';
  #href = '';
  #propstat = { ok: false, collection: false, length: 0 };
  #resource = { collection: false, length: 0 };

  constructor() {
    const parser = this.#parser;
    parser.on('opentag', (tag: SaxesTagNS) => {
      const name = tag.uri === DAV ? tag.local : null;
      this.#open.push(name);
      this.#text = '';
      if (name === 'response') {
        this.#href = '';
        this.#resource = { collection: false, length: 0 };
      } else if (name === 'propstat') {
        this.#propstat = { ok: false, collection: false, length: 0 };
      } else if (name === 'collection' && this.#within('resourcetype')) {
        this.#propstat.collection = true;
      }
    });
    parser.on('text', (text: string) => (this.#text += text));
    parser.on('cdata', (text: string) => (this.#text += text));
    parser.on('closetag', () => {
      const name = this.#open.pop();
      const text = this.#text.trim();
      this.#text = '';
      if (name === 'href' && this.#within('response') && !this.#within('propstat')) this.#href = text;
      else if (name === 'status' && this.#within('propstat')) this.#propstat.ok = / 2\d\d /.test(`${text} `);
      else if (name === 'getcontentlength' && this.#within('prop') && /^\d+$/.test(text)) this.#propstat.length = Number(text);
      else if (name === 'propstat' && this.#propstat.ok) {
        this.#resource.collection ||= this.#propstat.collection;
        this.#resource.length = Math.max(this.#resource.length, this.#propstat.length);
      } else if (name === 'response' && this.#href !== '') {
        this.entries.push({ href: this.#href, ...this.#resource });
      }
    });
  }

  /** Throws on XML that is not well-formed. */
  write(chunk: string): void {
    this.#parser.write(chunk);
  }

  close(): MultistatusEntry[] {
    this.#parser.close();
    return this.entries;
  }

  #within(name: string): boolean {
    return this.#open.includes(name);
  }
}
