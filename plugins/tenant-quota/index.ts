import { stat } from 'node:fs/promises';
import path from 'node:path';
import { definePlugin } from '../../src/index.js';
import { readQuotaFile } from './quota-file.js';
import { startTenantQuota } from './tenant-quota.js';
import { loadKeys, pathPatternProblem } from './tenant-source.js';

/** Tenant quotas (docs/tenant-quotas.md). */
export default definePlugin({
  name: 'tenant-quota',
  options: {
    tenant: {
      from: { doc: 'Where a write’s tenant is read: path, header, basic or jwt.', format: ['path', 'header', 'basic', 'jwt'], default: 'path' },
      path: { doc: 'For `path`: the pattern whose {tenant} segment names the tenant.', format: String, default: '/{tenant}/' },
      header: { doc: 'For `header`: the header an auth proxy in trustedProxies sets.', format: String, default: 'X-Remote-User' },
      jwt: {
        jwks: { doc: 'For `jwt`: a JWK Set file (relative to the config file) or http(s) URL.', format: String, default: '' },
        claim: { doc: 'For `jwt`: the claim that names the tenant.', format: String, default: 'sub' },
        issuer: { doc: 'For `jwt`: the issuer tokens must name (any when empty).', format: String, default: '' },
        audience: { doc: 'For `jwt`: the audience tokens must name (any when empty).', format: String, default: '' },
      },
    },
    unknownTenant: { doc: 'A write whose tenant cannot be told: refuse (403) or pass unjudged.', format: ['refuse', 'pass'], default: 'refuse' },
    quotas: { doc: 'The quota file (YAML or JSON), relative to the config file.', format: String, default: '' },
    usage: {
      source: { doc: 'Where usage is learnt: walk (the tenants’ directories, here) or agent (an agent’s GET /v1/usage).', format: ['walk', 'agent'], default: 'walk' },
      root: { doc: 'The directory holding a directory per tenant: for walk, relative to the config file; for agent, as the agent’s usage.roots names it.', format: String, default: '' },
      interval: { doc: 'How often usage is measured (walk) or the agent is asked (agent).', format: 'positive-duration', default: 10_000 },
      staleAfter: { doc: 'How long a tenant’s figures are trusted; older, policy.onUnknown applies.', format: 'positive-duration', default: 60_000 },
      agent: {
        url: { doc: 'For agent: the agent’s base URL; {url}/v1/usage is polled.', format: String, default: '' },
        token: { doc: 'For agent: sent as Authorization: Bearer <token>.', format: String, default: '', sensitive: true },
        timeout: { doc: 'For agent: a poll without a whole answer by then has failed.', format: 'positive-duration', default: 2_000 },
        maxAnswerSize: { doc: 'For agent: a larger answer is refused.', format: 'size', default: 8 * 1024 * 1024 },
      },
    },
    tenantLabels: { doc: 'How many tenants (the first the quota file names) get their own label on metrics and spans; 0: none.', format: 'nat', default: 0 },
  },
  requiredOptions: ['quotas'],
  async check(options, { configDir }) {
    const problems: string[] = [];
    const pattern = options.tenant.from === 'path' ? pathPatternProblem(options.tenant.path) : null;
    if (pattern !== null) problems.push(`tenant.path: ${pattern}`);
    if (options.tenant.from === 'header' && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(options.tenant.header)) problems.push(`tenant.header: expected a header name, not ${JSON.stringify(options.tenant.header)}`);
    if (options.tenant.from === 'jwt') {
      if (options.tenant.jwt.jwks === '') problems.push('tenant.jwt.jwks: must be given for tenant.from: jwt (a JWK Set file or URL)');
      else await loadKeys(options.tenant.jwt.jwks, configDir).catch((err: Error) => problems.push(`tenant.jwt.jwks: ${err.message}`));
    }
    if (options.usage.staleAfter <= options.usage.interval) problems.push(`usage.staleAfter: ${options.usage.staleAfter} ms must be longer than usage.interval (${options.usage.interval} ms), or figures go stale between measurements`);
    if (options.usage.root === '') problems.push('usage.root: missing; this key is required (the directory holding a directory per tenant)');
    else if (options.usage.source === 'agent') {
      const url = options.usage.agent.url;
      if (url === '') problems.push('usage.agent.url: missing; required for usage.source: agent (the agent’s base URL, like http://10.0.0.5:9100)');
      else if (!isHttpUrl(url)) problems.push(`usage.agent.url: expected an http(s) URL, not ${JSON.stringify(url)}`);
    } else {
      const root = path.resolve(configDir, options.usage.root);
      const isDir = await stat(root).then((s) => s.isDirectory(), () => false);
      if (!isDir) problems.push(`usage.root: ${root} is not a directory (it holds a directory per tenant)`);
    }
    if (options.quotas !== '') {
      const read = await readQuotaFile(path.resolve(configDir, options.quotas));
      if (!read.ok) problems.push(...read.problems.map((p) => `quotas: ${p}`));
    }
    return problems;
  },
  start: (context, options) => startTenantQuota(context, options),
});

function isHttpUrl(text: string): boolean {
  try {
    return /^https?:$/.test(new URL(text).protocol);
  } catch {
    return false;
  }
}
