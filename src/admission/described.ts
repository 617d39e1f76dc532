import { IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { sendProblem, type Signature } from '../http/own-answer.js';
import type { Landing } from '../headroom/landings.js';
import type { Problem } from '../http/problem.js';
import type { DescribedRequest, Ticket, Verdict } from './verdict.js';

/**
 * A described request as the gateway's steps read a request: method,
 * target, headers (Host included) and the peer's address. It has no body
 * and no connection of its own — whoever described it moves the bytes.
 */
export function describedMessage(described: DescribedRequest): IncomingMessage {
  // What is read of a request's connection (its peer, bytes counted for the access line); a socket of its own costs more than the check.
  const socket = { remoteAddress: described.remoteAddress, bytesRead: 0, bytesWritten: 0 } as unknown as Socket;
  const req = new IncomingMessage(socket);
  req.method = described.method.toUpperCase();
  req.url = described.target;
  req.headers = { ...described.headers, host: described.host };
  req.httpVersion = '1.1';
  req.complete = true;
  return req;
}

/**
 * Where a described request's outcome is noted for logs and metrics: the
 * status its verdict (or, once it started, the origin) gave. Nothing is
 * ever written to it; the caller answers on its own connection.
 */
export interface DescribedResponse {
  statusCode: number;
  writableFinished: boolean;
  readonly headersSent: boolean;
  readonly destroyed: boolean;
}

export function describedResponse(): ServerResponse & DescribedResponse {
  const res: DescribedResponse = { statusCode: 200, writableFinished: false, headersSent: false, destroyed: false };
  return res as ServerResponse & DescribedResponse;
}

/** The exchange a described request runs as, as far as a verdict needs it. */
interface DescribedExchange {
  readonly cutReason: Problem | null;
  chunk(bytes: number): void | Promise<void>;
  originStatus(status: number): void;
  end(): void;
  landing(): Landing | null;
}

/** What a described request's admission said: a refusal (its exchange ended), or a ticket that ends it. */
export function verdictOf(exchange: DescribedExchange, res: DescribedResponse, problem: Problem | undefined, signature: Signature, method: string): Verdict {
  if (problem !== undefined) {
    res.statusCode = problem.status;
    res.writableFinished = true;
    exchange.end();
    return {
      allowed: false,
      problem,
      // What is needed of the request to say it: its method (no body for HEAD) and Accept.
      send: (out, accept) => sendProblem({ method: method.toUpperCase(), headers: { accept } } as IncomingMessage, out, problem, signature),
    };
  }
  let answered = false;
  let ended = false;
  const ticket: Ticket = {
    chunk: (bytes) => (ended ? undefined : exchange.chunk(bytes)),
    get cut() {
      return exchange.cutReason;
    },
    originStatus: (status) => {
      if (ended || answered) return;
      answered = true;
      res.statusCode = status;
      exchange.originStatus(status);
    },
    landed: () => (ended ? null : (exchange.landing()?.landed ?? null)),
    end: () => {
      if (ended) return;
      ended = true;
      if (!answered && exchange.cutReason) res.statusCode = exchange.cutReason.status;
      res.writableFinished = true;
      exchange.end();
    },
  };
  return { allowed: true, ticket };
}
