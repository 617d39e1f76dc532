import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Problem, Ticket } from '../../src/index.js';
import { MeteredBody, TicketHolder, described, hasBody, stopUpload, type MiddlewareGuard } from './guarded.js';

export type { MiddlewareGuard } from './guarded.js';

export interface HeadroomMiddlewareOptions {
  /** Judges and meters the writes (`createGuard(config)`). */
  readonly guard: MiddlewareGuard;
}

/** Express's request adds `originalUrl`: the URL as the client sent it, where `url` lost a mount path. */
type Request = IncomingMessage & { readonly originalUrl?: string };
type Next = (err?: unknown) => void;

/**
 * A Connect/Express middleware that guards the writes a proxy after it
 * forwards (http-proxy-middleware, or anything that pipes the request to
 * its outgoing request, as http-proxy does). A write that does not fit is
 * answered here, before any byte of its body is read; an admitted one
 * goes on to the proxy with its body metered on the way.
 */
export function headroom(options: HeadroomMiddlewareOptions): (req: Request, res: ServerResponse, next: Next) => void {
  const { guard } = options;
  return (req, res, next) => {
    const holder = new TicketHolder(res);
    guard.check(described(req, req.originalUrl ?? req.url ?? '/')).then((verdict) => {
      if (!verdict.allowed) return guard.answer(req, res, verdict.problem);
      if (!holder.hold(verdict.ticket)) return; // the client left while the guard decided
      if (hasBody(req)) meterThePipe(guard, req, res, verdict.ticket);
      next();
    }, next);
  };
}

/**
 * The proxy pipes the request to its outgoing request (http-proxy's
 * `req.pipe(proxyReq)`): that one pipe is made to go through a metered
 * body instead, which knows the outgoing request and can stop it.
 */
function meterThePipe(guard: MiddlewareGuard, req: Request, res: ServerResponse, ticket: Ticket): void {
  let outgoing: NodeJS.WritableStream | null = null;
  const body = new MeteredBody(ticket, (problem: Problem) => {
    stopUpload(guard, req, res, body, problem);
    if (outgoing) abortQuietly(outgoing);
    body.destroy();
  });
  // A ticket that fails fails the forwarding: the proxy answers it as its own error.
  body.once('error', (err) => (outgoing as ClientRequest | null)?.destroy(err));
  req.pipe = <T extends NodeJS.WritableStream>(destination: T, pipeOptions?: { end?: boolean }): T => {
    // Once: the request's own pipe from here on.
    delete (req as { pipe?: unknown }).pipe;
    outgoing = destination;
    (destination as unknown as ClientRequest).once?.('response', (answer: IncomingMessage) => ticket.originStatus(answer.statusCode!));
    Readable.prototype.pipe.call(req, body);
    return body.pipe(destination, pipeOptions);
  };
}

/**
 * Destroys the outgoing request, so the origin sees an incomplete request
 * (never a short complete one). The error that follows is the upload's
 * stop, not the origin's failure: the proxy's own handler would answer it
 * with its 502 over the answer already given.
 */
function abortQuietly(outgoing: NodeJS.WritableStream): void {
  const stream = outgoing as ClientRequest;
  stream.removeAllListeners('error');
  stream.on('error', () => undefined);
  stream.destroy();
}
