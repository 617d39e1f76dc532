import type http from 'node:http';
import { definePlugin } from '../../src/index.js';
import { addressOf, answerQuestions, closeServer, listen } from './endpoint.js';
import { EndSignals } from './end-signals.js';
import { LeaseBook, type LeaseTiming } from './lease.js';
import type { ReadingOptions } from './original-request.js';

const KiB = 1024;

/**
 * The decision endpoint (docs/decision-endpoint.md): a listener of its own
 * that nginx's auth_request, Caddy's forward_auth, Traefik's forwardAuth
 * and Envoy's ext_authz ask before they forward a write; it judges the
 * request they describe as the gateway would, while they move the bytes.
 */
export default definePlugin({
  name: 'decide',
  // One endpoint for a group of workers: a lease is ended by the process that holds it.
  group: 'primary',
  options: {
    listen: {
      host: { doc: 'Address the decision endpoint listens on.', format: String, default: '127.0.0.1' },
      port: { doc: 'Its port (0: any free port; the admin route /plugins/decide/ shows it).', format: 'port', default: 9191 },
    },
    syslog: {
      host: { doc: 'Address the end signals of nginx’s access_log (syslog over UDP) arrive on.', format: String, default: '127.0.0.1' },
      port: { doc: 'Its UDP port; null: no end signals by syslog (the HTTP end signal still works).', format: 'port', default: null, nullable: true },
    },
    minRate: { doc: 'The slowest upload a lease waits for, per second: a lease lasts the declared size at this rate.', format: 'size', default: 64 * KiB },
    lease: {
      min: { doc: 'The shortest lease.', format: 'positive-duration', default: 10_000 },
      max: { doc: 'The longest lease: the room is given back after it, however large the write.', format: 'positive-duration', default: 900_000 },
    },
    token: {
      doc: 'When set, every question must carry it in X-Headroom-Token (the proxy sets it): anyone else who reaches the endpoint could hold room.',
      format: String,
      default: '',
    },
    envoyPathPrefix: {
      doc: 'Envoy ext_authz’s path_prefix: questions without X-Original-Method or X-Forwarded-Method are read from the request line (Envoy’s way), the path after this prefix. Null: such questions are refused.',
      format: String,
      default: null,
      nullable: true,
    },
  },
  check(options) {
    const problems: string[] = [];
    if (options.minRate <= 0) problems.push('minRate: must be more than 0 bytes per second.');
    if (options.lease.min > options.lease.max) problems.push(`lease.min: ${options.lease.min} ms is longer than lease.max (${options.lease.max} ms).`);
    if (options.envoyPathPrefix !== null && options.envoyPathPrefix !== '' && !options.envoyPathPrefix.startsWith('/')) {
      problems.push(`envoyPathPrefix: "${options.envoyPathPrefix}" must start with "/" (or be empty).`);
    }
    return problems;
  },
  async start(context, options) {
    const timingOf = (o: typeof options): LeaseTiming => ({ minRate: o.minRate, min: o.lease.min, max: o.lease.max });
    const readingOf = (o: typeof options): ReadingOptions => ({ requestLinePrefix: o.envoyPathPrefix });
    const leases = new LeaseBook(timingOf(options));
    let reading = readingOf(options);
    let token = options.token;
    const handler = answerQuestions({ context, leases, reading: () => reading, token: () => token });
    let listening = options.listen;
    let server: http.Server = await listen(handler, listening.host, listening.port);
    const openSignals = (o: typeof options): Promise<EndSignals | null> =>
      o.syslog.port === null ? Promise.resolve(null) : EndSignals.open(o.syslog.host, o.syslog.port, leases, () => token, context.logger);
    let syslog = options.syslog;
    let signals: EndSignals | null;
    try {
      signals = await openSignals(options);
    } catch (err) {
      await closeServer(server);
      throw err;
    }
    const announce = (): void => {
      const address = addressOf(server);
      context.logger.info({ address }, 'decision endpoint listening');
      if (token === '' && !isLoopback(address.address)) {
        context.logger.warn({ address, key: 'plugins.decide.token' }, 'the decision endpoint listens beyond loopback without a token: anyone who reaches it can hold room; set the token option');
      }
    };
    announce();
    return {
      adminRoutes: [
        {
          path: '/',
          handle: (_req, res) => {
            const { address, port } = addressOf(server);
            res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
            res.end(JSON.stringify({ listen: { host: address, port }, url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`, syslog: signals?.address() ?? null, leases: leases.size, ended: leases.ended }) + '\n');
          },
        },
      ],
      async reload(next) {
        // The new sockets first: a reload that cannot bind them is refused, and the old ones keep answering.
        const moved = next.listen.host !== listening.host || next.listen.port !== listening.port;
        const movedSignals = next.syslog.host !== syslog.host || next.syslog.port !== syslog.port;
        const replacement = moved ? await listen(handler, next.listen.host, next.listen.port) : null;
        let replacementSignals: EndSignals | null = null;
        try {
          if (movedSignals) replacementSignals = await openSignals(next);
        } catch (err) {
          if (replacement) await closeServer(replacement);
          throw err;
        }
        if (replacement) {
          const old = server;
          server = replacement;
          listening = next.listen;
          announce();
          await closeServer(old);
        }
        if (movedSignals) {
          const old = signals;
          signals = replacementSignals;
          syslog = next.syslog;
          await old?.close();
        }
        token = next.token;
        leases.retime(timingOf(next));
        reading = readingOf(next);
      },
      async close() {
        await closeServer(server);
        await signals?.close();
        await leases.close();
      },
    };
  },
});

/** 127.0.0.0/8 and ::1 (also as an IPv4-mapped address). */
function isLoopback(address: string): boolean {
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}
