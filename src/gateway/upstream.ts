import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import httpProxy from 'http-proxy';
import { withoutHopByHop } from '../http/hop-by-hop.js';
import { appendVia, viaEntry } from '../http/via.js';
import { outgoingBody, type OutgoingBody } from './outgoing-body.js';
import { OutgoingHead } from './outgoing-head.js';
import type { Exchange, UpstreamFailure } from '../exchange/exchange.js';
import type { ForwardSettings } from '../exchange/generation.js';
import type { Problem } from '../http/problem.js';
import { quotaFillFor, watchQuotaAsked } from '../quota/exchange-quota.js';
import type { QuotaAsked } from '../quota/asked.js';
import type { QuotaFigures } from '../quota/fill-multistatus.js';

export interface UpstreamOptions {
  /** True while the exchange's listener drains: its response then closes the connection. */
  readonly closing: (exchange: Exchange) => boolean;
  /** Called when the exchange with the origin fails before a response started. */
  readonly onFailure: (exchange: Exchange, problem: Problem) => void;
  readonly observer: UpstreamObserver;
  /** The RFC 4331 figures of the exchange's volume, null when not fresh (docs/quota-properties.md). */
  readonly quotaFigures: (exchange: Exchange) => QuotaFigures | null;
}

/** Told how each upstream exchange goes (telemetry listens here). */
export interface UpstreamObserver {
  /** The head is final but for what the observer adds (trace context). */
  forwarding(exchange: Exchange, head: OutgoingHead): void;
  answered(exchange: Exchange, status: number): void;
  failed(exchange: Exchange, reason: string): void;
}

const EXCHANGE = Symbol('headroom.exchange');
type Tracked = IncomingMessage & {
  [EXCHANGE]?: { exchange: Exchange; head: OutgoingHead; body: OutgoingBody; settings: ForwardSettings; quotaAsked: QuotaAsked | null };
};

/**
 * Streams an admitted request to its origin and the response back, on
 * http-proxy. The request's head is this gateway's (outgoing-head.ts): of
 * http-proxy's passes only `stream` runs, it is handed the head's fields,
 * and the path it derived is replaced before anything is written (see
 * outgoing-body.ts). The response is written by us so that its headers are
 * filtered the same way and its Via appended.
 */
export class Upstream {
  readonly #proxy: httpProxy;
  readonly #options: UpstreamOptions;

  constructor(options: UpstreamOptions) {
    this.#options = options;
    // toProxy: the target is not run through url.parse (which cuts at "#"
    // and turns "\\" into "/"); the path is set from the head anyway.
    this.#proxy = httpProxy.createProxyServer({ selfHandleResponse: true, xfwd: false, changeOrigin: false, toProxy: true });
    onlyStreamPass(this.#proxy);
    this.#proxy.on('proxyReq', (proxyReq, req) => this.#onProxyReq(proxyReq, req as Tracked));
    this.#proxy.on('proxyRes', (proxyRes, req, res) => this.#onProxyRes(proxyRes, req as Tracked, res as ServerResponse));
    // Errors reach the per-request callback; this listener only keeps a
    // stray one from crashing the process (http-proxy throws without it).
    this.#proxy.on('error', () => undefined);
  }

  forward(exchange: Exchange, settings: ForwardSettings): void {
    const { req, res } = exchange;
    const origin = exchange.route!.origin;
    const head = new OutgoingHead(exchange, settings.head, origin.target.path ?? '');
    this.#options.observer.forwarding(exchange, head);
    const body = outgoingBody(exchange, settings.body, origin.agent.maxSockets !== Infinity);
    // Seen on its way: what reaches the origin is what the origin answers.
    const quotaAsked = watchQuotaAsked(req, body.stream ?? req);
    (req as Tracked)[EXCHANGE] = { exchange, head, body, settings, quotaAsked };
    // http-proxy copies the request's fields into its own: for that moment
    // they are the head's, so the engine's request carries exactly them.
    const own = req.headers;
    req.headers = head.fields as IncomingMessage['headers'];
    try {
      this.#proxy.web(req, res, { target: origin.target, agent: origin.agent, buffer: body.stream }, (err: Error) =>
        this.#failed(exchange, err as NodeJS.ErrnoException),
      );
    } finally {
      req.headers = own;
    }
  }

  #onProxyReq(proxyReq: ClientRequest, req: Tracked): void {
    const { exchange, head, body } = req[EXCHANGE]!;
    exchange.upstreamRequest = proxyReq;
    // Cut, or over (the client left) while the request waited for a connection: nothing goes out.
    if (exchange.cutReason || exchange.ended) {
      proxyReq.destroy(new Error(exchange.cutReason ? `upload stopped by the gateway: ${exchange.cutReason.error}` : 'the client left before the origin was reached'));
      return;
    }
    // The engine ran the target through its URL joining (which merges "//");
    // nothing is written before this (see outgoing-body.ts).
    proxyReq.path = head.path;
    body.release();
    // Nothing asked the origin to switch protocols (Upgrade stops here): a
    // 101 is a broken answer, which Node would end in silence. Node emits
    // 'upgrade' at most once per request: `on` spares a once-wrapper per request.
    proxyReq.on('upgrade', (_res: IncomingMessage, socket: Socket) => {
      socket.destroy();
      this.#failed(exchange, Object.assign(new Error('the origin switched protocols unasked (101)'), { code: 'EPROTO' }));
    });
    const { connectTimeout, timeout } = exchange.route!.origin.config;
    const socket = proxyReq.socket;
    if (socket?.connecting) {
      const timer = setTimeout(giveUp, connectTimeout, exchange, proxyReq, 'connect_timeout');
      socket.once('connect', () => clearTimeout(timer));
      proxyReq.once('close', () => clearTimeout(timer));
    }
    proxyReq.setTimeout(timeout, () => {
      // Silent while the client's body is still awaited: the client's
      // fault, judged by the body-idle watch, not the origin's.
      if (!proxyReq.writableFinished && !exchange.req.isPaused()) return;
      giveUp(exchange, proxyReq, 'timeout');
    });
  }

  /**
   * Called when the client's side of the exchange closes. http-proxy misses
   * a client that leaves after sending its whole request
   * (node-http-proxy#1586): the upstream exchange ends with the client's.
   */
  clientClosed(exchange: Exchange): void {
    if (!exchange.res.writableFinished) exchange.upstreamRequest?.destroy();
  }

  #onProxyRes(proxyRes: IncomingMessage, req: Tracked, res: ServerResponse): void {
    const { exchange, settings, quotaAsked } = req[EXCHANGE]!;
    this.#options.observer.answered(exchange, proxyRes.statusCode ?? 0);
    exchange.originStatus(proxyRes.statusCode ?? 0);
    const headers = withoutHopByHop(proxyRes.headers);
    const pseudonym = settings.head.pseudonym;
    if (pseudonym) headers.via = appendVia(headers.via, viaEntry(proxyRes.httpVersion, pseudonym));
    if (this.#options.closing(exchange)) headers.connection = 'close';
    const fill = quotaFillFor(quotaAsked, proxyRes, headers, () => this.#options.quotaFigures(exchange));
    res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, headers);
    if (fill) proxyRes.pipe(fill).pipe(res);
    else proxyRes.pipe(res);
    // An origin that breaks off mid-response must not look like a complete one.
    proxyRes.once('close', () => {
      if (!proxyRes.complete) res.destroy();
    });
  }

  #failed(exchange: Exchange, err: NodeJS.ErrnoException): void {
    const { res } = exchange;
    this.#options.observer.failed(exchange, exchange.cutReason?.error ?? exchange.upstreamFailure ?? classify(err));
    if (!exchange.cutReason) {
      exchange.upstreamFailure ??= classify(err);
      // Passive health: failing to reach the origin counts like a failed check.
      if (exchange.upstreamFailure !== 'timeout' && exchange.upstreamFailure !== 'error') {
        exchange.route!.origin.health?.failure(`${exchange.upstreamFailure} (passive)`);
      }
    }
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    this.#options.onFailure(exchange, exchange.cutReason ?? upstreamProblem(exchange));
  }

  close(): void {
    this.#proxy.close();
  }
}

function giveUp(exchange: Exchange, proxyReq: ClientRequest, failure: UpstreamFailure): void {
  exchange.upstreamFailure = failure;
  proxyReq.destroy(Object.assign(new Error(`origin ${failure.replace('_', ' ')}`), { code: 'ETIMEDOUT' }));
}

function classify(err: NodeJS.ErrnoException): UpstreamFailure {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    default:
      return 'error';
  }
}

function upstreamProblem(exchange: Exchange): Problem {
  const origin = exchange.route!.origin;
  const members = { origin: origin.name, upstream_failure: exchange.upstreamFailure };
  if (exchange.upstreamFailure === 'timeout' || exchange.upstreamFailure === 'connect_timeout') {
    const limit = exchange.upstreamFailure === 'timeout' ? origin.config.timeout : origin.config.connectTimeout;
    return {
      status: 504,
      error: 'gateway_timeout',
      detail: `Origin "${origin.name}" did not answer within ${limit} ms.`,
      suggestedAction: 'Retry later; if it persists, the origin is overloaded or unreachable.',
      members,
    };
  }
  return {
    status: 502,
    error: 'bad_gateway',
    detail: `Origin "${origin.name}" could not be reached (${exchange.upstreamFailure}).`,
    suggestedAction: 'Retry later; if it persists, check that the origin is running.',
    members,
  };
}

/**
 * http-proxy's other passes rewrite the request: `deleteLength` sets
 * Content-Length: 0 on a DELETE or OPTIONS and drops its Transfer-Encoding
 * while the body is still piped (a second, smuggled request at the origin);
 * `XHeaders` and `timeout` are done here by other means.
 */
function onlyStreamPass(proxy: httpProxy): void {
  const engine = proxy as unknown as { webPasses: Array<{ name: string }> };
  engine.webPasses = engine.webPasses.filter((pass) => pass.name === 'stream');
  if (engine.webPasses.length !== 1) throw new Error('http-proxy has no "stream" pass: the installed version is not the one this gateway was built on');
}
