import { SaxesParser, type SaxesTagNS } from 'saxes';

/** The RFC 4331 properties, by local name in the DAV: namespace. */
export type QuotaProperty = 'quota-available-bytes' | 'quota-used-bytes';
export const QUOTA_PROPERTIES: ReadonlySet<string> = new Set<QuotaProperty>(['quota-available-bytes', 'quota-used-bytes']);

const DAV = 'DAV:';

/**
 * Watches a PROPFIND's body on its way to the origin, and tells which quota
 * properties it names: under `DAV:prop`, or under `DAV:include` beside
 * `DAV:allprop` (RFC 4918 §14.8). `allprop` alone does not ask for them:
 * RFC 4331 makes them live properties that allprop does not return.
 *
 * Only the first `limit` bytes are read; a body past them, or one that is
 * not well-formed XML, asks for nothing (the origin's answer then passes
 * untouched). The verdict stands only once the whole body has been seen.
 */
export class QuotaAsked {
  readonly #asked = new Set<QuotaProperty>();
  readonly #parser = new SaxesParser({ xmlns: true, position: false });
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
  readonly #limit: number;
  /** Local names of the open elements (null for those outside DAV:), innermost last. */
  readonly #open: Array<string | null> = [];
  #seen = 0;
  #state: 'reading' | 'done' | 'failed' = 'reading';

  constructor(limit: number) {
    this.#limit = limit;
    this.#parser.on('opentag', (tag: SaxesTagNS) => {
      const name = tag.uri === DAV ? tag.local : null;
      const parent = this.#open.at(-1);
      const top = this.#open[0];
      if (top === 'propfind' && this.#open.length === 2 && (parent === 'prop' || parent === 'include') && name !== null && QUOTA_PROPERTIES.has(name)) {
        this.#asked.add(name as QuotaProperty);
      }
      this.#open.push(name);
    });
    this.#parser.on('closetag', () => void this.#open.pop());
    this.#parser.on('error', () => {
      this.#state = 'failed';
    });
  }

  write(chunk: Buffer): void {
    if (this.#state !== 'reading') return;
    this.#seen += chunk.length;
    if (this.#seen > this.#limit) return this.#fail();
    try {
      this.#parser.write(this.#decoder.decode(chunk, { stream: true }));
    } catch {
      this.#fail();
    }
  }

  /** The body ended. */
  end(): void {
    if (this.#state !== 'reading') return;
    try {
      this.#parser.write(this.#decoder.decode());
      this.#parser.close();
      if (this.#state === 'reading') this.#state = 'done';
    } catch {
      this.#fail();
    }
  }

  /** What the whole body asked for; empty while it is still arriving, or when it could not be read. */
  get asked(): ReadonlySet<QuotaProperty> {
    return this.#state === 'done' ? this.#asked : EMPTY;
  }

  #fail(): void {
    this.#state = 'failed';
    this.#asked.clear();
  }
}

const EMPTY: ReadonlySet<QuotaProperty> = new Set();
