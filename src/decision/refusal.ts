import type { Problem } from '../http/problem.js';
import type { Decision, Figures } from './decision.js';

export interface RefusalContext {
  readonly origin: string;
  readonly volume: string | null;
  /** A COPY's or MOVE's Destination path (the volume is the destination's). */
  readonly destination: string | null;
  /** Seconds, for Retry-After. */
  readonly retryAfter: number;
  readonly minFreeInodes: number;
  readonly maxBodySize: number;
  /** Why a shared ledger could not be asked, for a `ledger_unavailable` refusal. */
  readonly unavailable?: string;
}

type Rejection = Extract<Decision, { verdict: 'reject' }>;

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

/** Quota members (RFC 4331 style: total = capacity, used + available = total), and where. */
function members(f: Figures, context: RefusalContext): Record<string, number | string | null> {
  const available = f.usableBytes === null ? null : Math.max(0, f.usableBytes);
  return {
    requested: f.requestedBytes,
    quota_available: available,
    quota_total: f.capacityBytes,
    quota_used: f.capacityBytes !== null && available !== null ? f.capacityBytes - available : null,
    origin: context.origin,
    volume: context.volume,
    ...(context.destination === null ? {} : { destination: context.destination }),
  };
}

/** The answer to a refused write: what the decision found, said for a person and a program. */
export function refusalProblem(decision: Rejection, context: RefusalContext): Problem {
  const f = decision.figures;
  const where = context.volume === null ? `origin "${context.origin}"` : `volume ${context.volume} of origin "${context.origin}"`;
  const size = f.requestedBytes === null ? 'a body of unknown length' : `${f.requestedBytes} bytes`;
  switch (decision.reason) {
    case 'too_large': {
      const overCap = context.maxBodySize > 0 && (f.requestedBytes ?? 0) > context.maxBodySize;
      return {
        status: 413,
        error: 'payload_too_large',
        detail: overCap
          ? `${size} exceed the largest body this gateway accepts (${context.maxBodySize} bytes).`
          : `${size} can never fit: ${where} holds at most ${f.capacityBytes} bytes.`,
        suggestedAction: 'Send a smaller file, or split it.',
        members: members(f, context),
      };
    }
    case 'flood_stage':
      return {
        status: 507,
        error: 'storage_flood_stage',
        detail: `${where} is nearly full; writes are refused until usage falls below the flood release mark.`,
        suggestedAction: 'Free space on the origin (delete files), then retry.',
        retryAfter: context.retryAfter,
        members: members(f, context),
      };
    case 'inodes':
      return {
        status: 507,
        error: 'insufficient_inodes',
        detail: `${where} has ${f.freeInodes} free inodes not promised to writes in flight; a new file would leave fewer than the ${context.minFreeInodes} kept free.`,
        suggestedAction: 'Delete files (many small ones use up inodes), then retry.',
        retryAfter: context.retryAfter,
        members: { ...members(f, context), free_inodes: f.freeInodes, min_free_inodes: context.minFreeInodes },
      };
    case 'stale':
      return {
        status: 503,
        error: 'storage_unknown',
        detail: `How much room ${where} has is unknown right now${f.snapshotAgeMs === null ? '' : ` (last measured ${Math.round(f.snapshotAgeMs / 1000)} s ago)`}; writes wait until it is known.`,
        suggestedAction: 'Retry later.',
        retryAfter: context.retryAfter,
        members: members(f, context),
      };
    case 'ledger_unavailable':
      return {
        status: 503,
        error: 'ledger_unavailable',
        detail: `The shared ledger that keeps this gateway's replicas from promising the same room twice could not be asked (${context.unavailable ?? 'no answer'}); writes to ${where} wait until it answers.`,
        suggestedAction: 'Retry later.',
        retryAfter: context.retryAfter,
        members: { requested: f.requestedBytes, origin: context.origin, volume: context.volume },
      };
    default:
      return {
        status: 507,
        error: 'insufficient_storage',
        detail:
          f.usableBytes === null
            ? `The origin reported ${where} full; writes are refused until it is measured again.`
            : `${size} do not fit: ${mib(Math.max(0, f.usableBytes))} usable on ${where}.`,
        suggestedAction: 'Free space on the origin, send a smaller file, or retry later.',
        retryAfter: context.retryAfter,
        members: members(f, context),
      };
  }
}

/** A chunked body went on past the size its size header declared. */
export function overDeclaredProblem(header: string, declared: number): Problem {
  return {
    status: 400,
    error: 'declared_length_exceeded',
    detail: `The body is longer than the ${declared} bytes its ${header} header declared; it was stopped there and not stored.`,
    suggestedAction: `Send ${header} with the body’s exact length, or leave it out.`,
    members: { requested: declared, declared_by: header },
  };
}

/** A body of unknown length went on past policy.maxBodySize. */
export function streamedTooLarge(maxBodySize: number): Problem {
  return {
    status: 413,
    error: 'payload_too_large',
    detail: `The body went on past ${maxBodySize} bytes, the largest this gateway accepts; it was stopped there and not stored.`,
    suggestedAction: 'Send a smaller file, or split it.',
    members: { max_body_size: maxBodySize },
  };
}

/**
 * A PUT with Content-Range writes part of a resource in place; an origin
 * that cannot do that (or that runs out of room, or is cut, midway) leaves
 * it partly overwritten. RFC 9110 §14.4 lets a server refuse it with 400.
 */
export function rangeNotSupported(contentRange: string): Problem {
  return {
    status: 400,
    error: 'range_not_supported',
    detail: `A PUT with Content-Range ("${contentRange}") writes part of a resource; this gateway does not forward partial writes.`,
    suggestedAction: 'Send the whole resource in one PUT without Content-Range.',
  };
}

/**
 * How much a COPY or MOVE would write could not be learnt from the origin,
 * and policy.onUnknown says to refuse what cannot be judged.
 */
export function sizeUnknownProblem(method: string, why: string, where: { origin: string; volume: string; retryAfter: number }): Problem {
  return {
    status: 503,
    error: 'storage_unknown',
    detail: `How much this ${method} would write to volume ${where.volume} of origin "${where.origin}" is unknown: ${why}.`,
    suggestedAction: 'Retry later, or copy fewer resources at a time.',
    retryAfter: where.retryAfter,
    members: { requested: null, origin: where.origin, volume: where.volume },
  };
}

/** The client left while the guard was asking the origin; nothing is sent. */
export const clientGone: Problem = {
  status: 499,
  error: 'client_closed_request',
  detail: 'The client closed the connection before the request was judged.',
  suggestedAction: 'None; the request was not forwarded.',
};
