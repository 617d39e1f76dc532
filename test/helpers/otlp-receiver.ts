import type { Test } from 'tap';
import { serve } from './http.js';

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  /** 2 = SERVER, 3 = CLIENT */
  readonly kind: number;
  readonly status: { code?: number };
  readonly attributes: Record<string, string | number | boolean>;
  readonly serviceName: string;
  /** The resource's attributes (service.version, service.instance.id, …). */
  readonly resource: Record<string, string | number | boolean>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}

/** A value as JSON would have it; an array's values joined by commas. */
const plain = (v: OtlpValue): string | number | boolean =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue ?? (v.arrayValue ? (v.arrayValue.values ?? []).map(plain).join(',') : '');
const attributes = (list: OtlpAttribute[] = []) => Object.fromEntries(list.map((a) => [a.key, plain(a.value)]));

/**
 * An OTLP/HTTP receiver: accepts POST /v1/traces in OTLP/protobuf (the
 * exporter's default) or OTLP/JSON, decodes every span, and answers as a
 * collector would.
 */
export async function otlpReceiver(t: Test): Promise<{ url: string; spans: ReceivedSpan[]; posts: () => number; contentTypes: string[] }> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  let posts = 0;
  const url = await serve(t, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts++;
      const type = String(req.headers['content-type']);
      contentTypes.push(type);
      if (req.url === '/v1/traces') {
        const body = Buffer.concat(chunks);
        spans.push(...(type.startsWith('application/json') ? fromJson(body) : fromProtobuf(body)));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return { url, spans, posts: () => posts, contentTypes };
}

type JsonSpan = Omit<ReceivedSpan, 'attributes' | 'serviceName' | 'resource'> & { attributes: OtlpAttribute[] };

function fromJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString()) as {
    resourceSpans: Array<{ resource: { attributes: OtlpAttribute[] }; scopeSpans: Array<{ spans: JsonSpan[] }> }>;
  };
  return request.resourceSpans.flatMap((rs) => {
    const resource = attributes(rs.resource.attributes);
    const serviceName = String(resource['service.name']);
    return rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ...s, parentSpanId: s.parentSpanId ?? '', attributes: attributes(s.attributes), serviceName, resource })));
  });
}

// OTLP/protobuf read with a protobuf wire-format reader of its own, so that
// the test does not trust the SDK's encoder to check itself. Field numbers
// are those of opentelemetry/proto/{collector/trace,trace,common}/v1.
type Field = { readonly n: number; readonly varint: bigint; readonly bytes: Buffer };

function fieldsOf(buf: Buffer): Field[] {
  const fields: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = buf[at++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < buf.length) {
    const key = Number(varint());
    const [n, wire] = [key >>> 3, key & 7];
    const take = (length: number): Buffer => buf.subarray(at, (at += length));
    if (wire === 0) fields.push({ n, varint: varint(), bytes: Buffer.alloc(0) });
    else if (wire === 1) fields.push({ n, varint: 0n, bytes: take(8) });
    else if (wire === 2) fields.push({ n, varint: 0n, bytes: take(Number(varint())) });
    else if (wire === 5) fields.push({ n, varint: 0n, bytes: take(4) });
    else throw new Error(`protobuf wire type ${wire} in an OTLP request`);
  }
  return fields;
}

/** A message's fields by number, in order, decoded once. */
type Message = Map<number, Field[]>;

function messageOf(buf: Buffer | undefined): Message {
  const message: Message = new Map();
  for (const field of buf ? fieldsOf(buf) : []) message.set(field.n, [...(message.get(field.n) ?? []), field]);
  return message;
}

const first = (message: Message, n: number): Field | undefined => message.get(n)?.[0];
const repeated = (message: Message, n: number): Buffer[] => (message.get(n) ?? []).map((f) => f.bytes);
const text = (message: Message, n: number): string => first(message, n)?.bytes.toString() ?? '';
const hex = (message: Message, n: number): string => first(message, n)?.bytes.toString('hex') ?? '';

function anyValue(buf: Buffer | undefined): string | number | boolean {
  const f = buf ? fieldsOf(buf)[0] : undefined;
  if (!f) return '';
  if (f.n === 1) return f.bytes.toString();
  if (f.n === 2) return f.varint !== 0n;
  if (f.n === 3) return Number(BigInt.asIntN(64, f.varint));
  if (f.n === 4) return f.bytes.readDoubleLE(0);
  if (f.n === 5) return repeated(messageOf(f.bytes), 1).map(anyValue).join(','); // ArrayValue: values joined, as in fromJson
  return '';
}

const keyValues = (list: Buffer[]): Record<string, string | number | boolean> =>
  Object.fromEntries(list.map(messageOf).map((kv) => [text(kv, 1), anyValue(first(kv, 2)?.bytes)]));

function fromProtobuf(body: Buffer): ReceivedSpan[] {
  return repeated(messageOf(body), 1).flatMap((resourceSpansBuf) => {
    const resourceSpans = messageOf(resourceSpansBuf);
    const resource = keyValues(repeated(messageOf(first(resourceSpans, 1)?.bytes), 1));
    const serviceName = String(resource['service.name']);
    return repeated(resourceSpans, 2).flatMap((scopeSpans) =>
      repeated(messageOf(scopeSpans), 2).map((spanBuf) => {
        const span = messageOf(spanBuf);
        const code = first(messageOf(first(span, 15)?.bytes), 3)?.varint;
        return {
          traceId: hex(span, 1),
          spanId: hex(span, 2),
          parentSpanId: hex(span, 4),
          name: text(span, 5),
          kind: Number(first(span, 6)?.varint ?? 0n),
          status: code === undefined ? {} : { code: Number(code) },
          attributes: keyValues(repeated(span, 9)),
          serviceName,
          resource,
        };
      }),
    );
  });
}
