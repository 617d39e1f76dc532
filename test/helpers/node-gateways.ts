import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import fastify from 'fastify';
import fastifyHttpProxy from '@fastify/http-proxy';
import { createProxyMiddleware } from 'http-proxy-middleware';
import type { Test } from 'tap';
import { headroom as expressHeadroom, type MiddlewareGuard } from '../../plugins/middleware/express.js';
import { headroom as fastifyHeadroom } from '../../plugins/middleware/fastify.js';

/** A Node gateway app that proxies to `target` with the Headroom middleware in front of its proxy. */
export interface NodeGateway {
  readonly name: string;
  readonly url: string;
  readonly port: number;
}

export type NodeGatewayKind = 'express' | 'fastify';

/**
 * An Express app as its users write it: the middleware, then
 * http-proxy-middleware with an error handler of its own, both under a
 * mount path (`/dav` → the target's `/`).
 */
export async function expressGateway(t: Test, guard: MiddlewareGuard, target: string): Promise<NodeGateway> {
  const app = express();
  const proxy = createProxyMiddleware({
    target,
    // As http-proxy-middleware's documentation shows an error handler: one that answers, assuming nobody has.
    on: { error: (_err, _req, res) => void (res as http.ServerResponse).writeHead(502).end('the origin failed') },
  });
  app.use('/dav', expressHeadroom({ guard }), proxy);
  const server = http.createServer(app);
  return listening(t, 'express', server, () => {
    server.closeAllConnections();
    server.close();
  });
}

/**
 * A Fastify app as its users write it: the plugin registered before
 * @fastify/http-proxy (its hooks reach the proxy's routes), under `/dav`.
 */
export async function fastifyGateway(t: Test, guard: MiddlewareGuard, target: string): Promise<NodeGateway> {
  const app = fastify();
  await app.register(fastifyHeadroom, { guard });
  await app.register(fastifyHttpProxy, { upstream: target, prefix: '/dav', rewritePrefix: '/' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  t.teardown(() => app.close());
  return { name: 'fastify', url: `http://127.0.0.1:${port}/dav`, port };
}

export const nodeGateway = (kind: NodeGatewayKind, t: Test, guard: MiddlewareGuard, target: string): Promise<NodeGateway> =>
  kind === 'express' ? expressGateway(t, guard, target) : fastifyGateway(t, guard, target);

async function listening(t: Test, name: string, server: http.Server, close: () => void): Promise<NodeGateway> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(close);
  const port = (server.address() as AddressInfo).port;
  return { name, url: `http://127.0.0.1:${port}/dav`, port };
}
