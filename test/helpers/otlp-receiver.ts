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
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}

const plain = (v: OtlpValue): string | number | boolean =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue ?? '';
const attributes = (list: OtlpAttribute[] = []) => Object.fromEntries(list.map((a) => [a.key, plain(a.value)]));

/**
 * An OTLP/HTTP receiver: accepts POST /v1/traces in OTLP/JSON (what the
 * exporter sends), decodes every span, and answers as a collector would.
 */
export async function otlpReceiver(t: Test): Promise<{ url: string; spans: ReceivedSpan[]; posts: () => number }> {
  const spans: ReceivedSpan[] = [];
  let posts = 0;
  const url = await serve(t, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts++;
      if (req.url === '/v1/traces' && String(req.headers['content-type']).startsWith('application/json')) {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          resourceSpans: Array<{ resource: { attributes: OtlpAttribute[] }; scopeSpans: Array<{ spans: Array<Omit<ReceivedSpan, 'attributes' | 'serviceName'> & { attributes: OtlpAttribute[] }> }> }>;
        };
        for (const rs of body.resourceSpans) {
          const serviceName = String(attributes(rs.resource.attributes)['service.name']);
          for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, parentSpanId: s.parentSpanId ?? '', attributes: attributes(s.attributes), serviceName });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return { url, spans, posts: () => posts };
}
