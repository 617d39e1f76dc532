import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import type { Ticket } from '../../src/index.js';
import { MeteredBody, TicketHolder, described, hasBody, stopUpload, type MiddlewareGuard } from './guarded.js';

export type { MiddlewareGuard } from './guarded.js';

export interface HeadroomPluginOptions {
  /** Judges and meters the writes (`createGuard(config)`). */
  readonly guard: MiddlewareGuard;
}

/**
 * A Fastify plugin that guards the writes its routes forward
 * (@fastify/http-proxy, @fastify/reply-from, or any route that takes the
 * body as a stream). Its hooks apply to the context it is registered in
 * and the plugins registered after it there: a write that does not fit is
 * answered in `onRequest`, before any byte of its body is read; an
 * admitted one gets its body, in `preParsing`, as a metered stream that
 * the route's proxy forwards.
 */
const plugin: FastifyPluginCallback<HeadroomPluginOptions> = (fastify, options, done) => {
  const { guard } = options;
  const tickets = new WeakMap<FastifyRequest, Ticket>();

  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const holder = new TicketHolder(reply.raw);
    const verdict = await guard.check(described(request.raw, request.originalUrl));
    if (!verdict.allowed) {
      reply.hijack();
      return guard.answer(request.raw, reply.raw, verdict.problem);
    }
    if (holder.hold(verdict.ticket)) tickets.set(request, verdict.ticket);
  });

  fastify.addHook('preParsing', async (request: FastifyRequest, reply: FastifyReply, payload) => {
    const ticket = tickets.get(request);
    if (ticket === undefined || !hasBody(request.raw)) return payload;
    const body: MeteredBody = new MeteredBody(ticket, (problem) => {
      // Ours to answer from here on: the proxy's error for the stopped body finds the reply sent.
      reply.hijack();
      stopUpload(guard, request.raw, reply.raw, body, problem);
      // The proxy's client (undici) gives up a request whose body fails: it closes the connection mid-body.
      body.destroy(new Error(`upload stopped by Headroom: ${problem.error}`));
    });
    // A body the client abandons fails the same way, rather than leaving the origin waiting for the rest.
    request.raw.once('close', () => {
      if (!request.raw.complete) body.destroy(new Error('the client abandoned its upload'));
    });
    payload.pipe(body);
    return body;
  });

  fastify.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    // A proxied response's payload is the origin's body as a stream; the proxy's own errors are serialised.
    if (payload instanceof Readable) tickets.get(request)?.originStatus(reply.statusCode);
    return payload;
  });

  done();
};

// As fastify-plugin marks a plugin: its hooks apply where it is registered, not in a context of its own.
Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'headroom' });

export const headroom = plugin;
export default plugin;
