import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Test } from 'tap';
import { freePort, request, until } from './http.js';

export const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';

/**
 * Debian's node_exporter with only its filesystem collector, on an
 * ephemeral loopback port; stopped when the test ends. Only the system's
 * pseudo filesystems are left out, so a test's tmpfs is reported.
 * Resolves with its address (host:port).
 */
export async function startNodeExporter(t: Test): Promise<string> {
  const port = await freePort();
  const child = spawn(NODE_EXPORTER, [
    `--web.listen-address=127.0.0.1:${port}`,
    '--collector.disable-defaults',
    '--collector.filesystem',
    '--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run)($|/)',
  ], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  const address = `127.0.0.1:${port}`;
  await until(async () => (await request(`http://${address}/metrics`).catch(() => ({ status: 0 }))).status === 200, 'node_exporter to answer', 10_000);
  return address;
}
