import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { freePort, request, until } from './http.js';

export const PROMETHEUS = '/usr/bin/prometheus';
export const prometheusInstalled = (): boolean => existsSync(PROMETHEUS);

/**
 * Debian's Prometheus scraping `target` (host:port) every second, with its
 * own config and data dir; stopped and removed when the test ends.
 * Resolves with a function running an instant query, and the server's URL as its `url`.
 */
export async function startPrometheus(t: Test, target: string): Promise<((query: string) => Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>) & { url: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-prometheus-'));
  const port = await freePort();
  writeFileSync(path.join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: headroom\n    static_configs:\n      - targets: ['${target}']\n`);
  const child = spawn(PROMETHEUS, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${port}`;
  await until(async () => (await request(`${base}/-/ready`).catch(() => ({ status: 0 }))).status === 200, 'prometheus to be ready', 20_000);
  const query = async (query: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const reply = await request(`${base}/api/v1/query?query=${encodeURIComponent(query)}`);
    return (JSON.parse(reply.body.toString()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }).data.result;
  };
  return Object.assign(query, { url: base });
}
