import type { Test } from 'tap';
import { loadAgentConfig } from '../../src/config/agent-config.js';
import { startAgent, type Agent } from '../../src/agent/agent-server.js';
import { createLogger } from '../../src/log/log.js';

/** An agent on loopback reporting `paths` (none: every real mount) and `usage` (none unless given), stopped when the test ends unless stopped before. */
export async function agentFor(t: Test, paths: string[], token = '', usage: { roots: string[]; interval: string } | null = null): Promise<Agent & { url: string }> {
  const loaded = loadAgentConfig({ file: null, env: {}, values: { listen: { host: '127.0.0.1', port: 0 }, token, paths, ...(usage ? { usage } : {}), log: { level: 'silent' } } });
  if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
  const agent = await startAgent(loaded.config, createLogger('silent'));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await agent.close();
  };
  t.teardown(close);
  return { ...agent, close, url: `http://127.0.0.1:${agent.address.port}` };
}
