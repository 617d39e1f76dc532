import type { Problem, RoomRefusal } from '../../src/index.js';
import type { SourceKind } from './tenant-source.js';

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

/**
 * The answer to a write a tenant's quota cannot take. Quota members as the
 * gateway's own (RFC 4331 style: used + available = total, what writes in
 * flight hold counted as used), and the tenant.
 */
export function quotaProblem(refused: RoomRefusal): Problem {
  const { room: tenant, requestedBytes: requested, totalBytes: total } = refused;
  const available = refused.availableBytes;
  const used = total !== null && available !== null ? total - available : refused.usedBytes;
  const members = { tenant, requested, quota_used: used, quota_total: total, quota_available: available };
  const size = requested === null ? 'A body of unknown length' : `${requested} bytes`;
  if (refused.status === 503) {
    const unavailable = refused.reason === 'ledger_unavailable';
    return {
      status: 503,
      error: unavailable ? 'ledger_unavailable' : 'storage_unknown',
      detail: unavailable
        ? `The shared ledger could not be asked (${refused.unavailable ?? 'no answer'}); writes of tenant "${tenant}" wait until it answers.`
        : `How much of tenant "${tenant}"'s quota is used is unknown right now; writes wait until it is measured.`,
      suggestedAction: 'Retry later.',
      retryAfter: refused.retryAfter,
      members,
    };
  }
  return {
    status: 507,
    error: 'storage_quota_exceeded',
    detail:
      refused.reason === 'too_large'
        ? `${size} can never fit: the quota of tenant "${tenant}" is ${total} bytes.`
        : `${size} do not fit in the quota of tenant "${tenant}": ${mib(available ?? 0)} of ${mib(total ?? 0)} left.`,
    suggestedAction: 'Delete some files or ask for a larger quota.',
    retryAfter: refused.retryAfter,
    members,
  };
}

const WHY: Record<SourceKind, (where: string) => string> = {
  path: (pattern) => `its path is not under ${pattern} with a valid tenant name`,
  header: (header) => `no valid ${header} header came from a trusted proxy`,
  basic: () => 'it carries no Basic credentials with a user name',
  jwt: () => 'it carries no bearer token',
};

/** A write whose tenant cannot be told, where the configuration refuses those. */
export function unknownTenantProblem(from: SourceKind, where: string): Problem {
  return {
    status: 403,
    error: 'tenant_unknown',
    detail: `This write belongs to no tenant: ${WHY[from](where)}, and writes are judged against a tenant's quota.`,
    suggestedAction: from === 'path' ? "Write under your tenant's path." : 'Sign in, then retry.',
  };
}
