import { readFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Problem } from '../../src/index.js';
import { tenantNameProblem } from './quota-file.js';

/** A write's tenant: its name, null when it cannot be told, or a refusal to answer as is (a token that fails verification). */
export type Tenant = string | null | Problem;

/** What a source reads of a request. */
export interface RequestFacts {
  readonly headers: IncomingHttpHeaders;
  /** The peer's address, for a header only trusted proxies may set. */
  readonly remoteAddress: string | undefined;
}

/** Where a write's tenant is read from: the request, and the normalised path it writes to. */
export type TenantOf = (request: RequestFacts, path: string) => Tenant | Promise<Tenant>;

export type SourceKind = 'path' | 'header' | 'basic' | 'jwt';

export interface TenantSourceOptions {
  readonly from: SourceKind;
  /** For `path`: `/dav/{tenant}/`. */
  readonly path: string;
  /** For `header`: its name. */
  readonly header: string;
  readonly jwt: { readonly jwks: string; readonly claim: string; readonly issuer: string; readonly audience: string };
}

export interface SourceContext {
  readonly configDir: string;
  /** Whether a peer is one of the gateway's `trustedProxies` (as a reload has them now). */
  readonly trusts: (address: string | undefined) => boolean;
}

/** Why a path pattern cannot be used, or null. */
export function pathPatternProblem(pattern: string): string | null {
  const at = pattern.indexOf('{tenant}');
  if (at < 0 || pattern.indexOf('{tenant}', at + 1) >= 0) return `expected one "{tenant}" segment, like "/dav/{tenant}/", not ${JSON.stringify(pattern)}`;
  const prefix = pattern.slice(0, at);
  const rest = pattern.slice(at + '{tenant}'.length);
  if (!prefix.startsWith('/') || !prefix.endsWith('/') || (rest !== '' && rest !== '/')) return `expected "{tenant}" as a whole path segment, like "/dav/{tenant}/", not ${JSON.stringify(pattern)}`;
  return null;
}

/** The tenant a path names by `pattern`: the segment after its prefix. */
function fromPath(pattern: string): TenantOf {
  const prefix = pattern.slice(0, pattern.indexOf('{tenant}'));
  return (_request, target) => {
    if (!target.startsWith(prefix)) return null;
    const end = target.indexOf('/', prefix.length);
    const segment = target.slice(prefix.length, end < 0 ? undefined : end);
    let name: string;
    try {
      name = decodeURIComponent(segment);
    } catch {
      return null;
    }
    return named(name);
  };
}

/**
 * The tenant an auth proxy in front names in a header. Only a peer in
 * `trustedProxies` may name one: from any other the header is ignored, so
 * a client that goes around the proxy cannot pick whose quota it uses.
 */
function fromHeader(header: string, context: SourceContext): TenantOf {
  const name = header.toLowerCase();
  const { trusts } = context;
  return (request) => {
    if (!trusts(request.remoteAddress)) return null;
    const value = request.headers[name];
    return typeof value === 'string' ? named(value.trim()) : null;
  };
}

/** The user name of Basic credentials (the password is the origin's or the proxy's to check). */
const fromBasic: TenantOf = (request) => {
  const match = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match) return null;
  const credentials = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  return colon <= 0 ? null : named(credentials.slice(0, colon));
};

/** The keys tokens are verified with: a JWKS file (relative to the config dir) or an http(s) URL. */
export async function loadKeys(jwks: string, configDir: string): Promise<JWTVerifyGetKey> {
  if (/^https?:\/\//i.test(jwks)) return createRemoteJWKSet(new URL(jwks), { timeoutDuration: 5000 });
  const file = path.resolve(configDir, jwks);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let set: unknown;
  try {
    set = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: malformed JSON: ${(err as Error).message}`);
  }
  if (typeof set !== 'object' || set === null || !Array.isArray((set as { keys?: unknown }).keys)) throw new Error(`${file}: expected a JWK Set ({"keys": […]})`);
  return createLocalJWKSet(set as Parameters<typeof createLocalJWKSet>[0]);
}

/** A token's errors that are the token's own (the client can fix them), as jose codes them. */
const TOKEN_ERRORS = /^ERR_(JWT_|JWS_|JWKS_NO_MATCHING_KEY|JWKS_MULTIPLE_MATCHING_KEYS|JOSE_ALG_NOT_ALLOWED|JOSE_NOT_SUPPORTED)/;

/**
 * The tenant a bearer token's claim names, once the token is verified.
 * A token that fails verification is refused with 401, never read
 * unverified; keys that cannot be fetched are 503.
 */
function fromJwt(options: TenantSourceOptions['jwt'], keys: JWTVerifyGetKey): TenantOf {
  const verify = { ...(options.issuer ? { issuer: options.issuer } : {}), ...(options.audience ? { audience: options.audience } : {}) };
  return async (request) => {
    const match = /^bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    if (!match) return null;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(match[1]!, keys, verify));
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (TOKEN_ERRORS.test(code) || code === 'ERR_JWS_INVALID') return invalidToken((err as Error).message);
      return {
        status: 503,
        error: 'token_keys_unavailable',
        detail: `The keys that verify bearer tokens could not be read (${(err as Error).message}); writes wait until they can.`,
        suggestedAction: 'Retry later.',
        retryAfter: 5,
      };
    }
    const claim = payload[options.claim];
    if (typeof claim !== 'string') return invalidToken(`it has no text claim "${options.claim}" naming the tenant`);
    return named(claim);
  };
}

const invalidToken = (why: string): Problem => ({
  status: 401,
  error: 'invalid_token',
  detail: `The bearer token was refused: ${why}.`,
  suggestedAction: 'Sign in again to get a fresh token, then retry.',
});

/** A name as a tenant's, or null when it cannot be one (so it is not told). */
const named = (name: string): string | null => (tenantNameProblem(name) === null ? name : null);

/** Builds the configured source; a JWT source loads its keys first (a problem rejects). */
export async function tenantSource(options: TenantSourceOptions, context: SourceContext): Promise<TenantOf> {
  switch (options.from) {
    case 'path':
      return fromPath(options.path);
    case 'header':
      return fromHeader(options.header, context);
    case 'basic':
      return fromBasic;
    case 'jwt':
      return fromJwt(options.jwt, await loadKeys(options.jwt.jwks, context.configDir));
  }
}
