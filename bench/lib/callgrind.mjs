import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureDebianPackage, freePort, waitForPort } from './processes.mjs';

const run = promisify(execFile);
export const ensureValgrind = () => ensureDebianPackage('/usr/bin/valgrind', 'valgrind');

/**
 * Instructions the proxy's main thread executes per request, counted by
 * callgrind: a figure that does not move with the machine's load, unlike
 * requests/s on two shared cores (it moves a few percent between runs with
 * what the JIT compiled). `launch(port)` gives the proxy's argv
 * (after `node`). Requests go one at a time on one keep-alive connection
 * (curl with a URL range); counting starts after `warm` of them, so that
 * start-up and JIT warm-up are left out. The main thread only: V8's helper
 * threads spin while valgrind serialises them, which inflates their count.
 */
export async function instructionsPerRequest({ launch, path: urlPath, body = null, warm = 3000, count = 1000 }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-callgrind-'));
  const port = await freePort();
  const child = spawn('valgrind', ['--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${dir}/out.%p`, process.execPath, ...launch(port)], { stdio: 'ignore' });
  try {
    await waitForPort(port, 'the proxy under callgrind', 180_000);
    const upload = body === null ? [] : (writeFileSync(path.join(dir, 'body'), Buffer.alloc(body, 'x')), ['-H', 'Expect:', '-T', path.join(dir, 'body')]);
    const requests = (n) => run('curl', ['-sS', '-o', '/dev/null', ...upload, `http://127.0.0.1:${port}${urlPath}?[1-${n}]`], { maxBuffer: 1 << 26 });
    await requests(warm);
    await run('callgrind_control', ['--zero', String(child.pid)]);
    await requests(count);
    await run('callgrind_control', ['--dump', String(child.pid)]);
    // The dump of the main thread (thread 1) after the zeroing: out.<pid>.1-01.
    const file = readdirSync(dir).find((f) => f.endsWith('.1-01'));
    if (!file) throw new Error('callgrind wrote no dump for the main thread');
    const summary = /^summary:\s+(\d+)/m.exec(readFileSync(path.join(dir, file), 'utf8'));
    return Number(summary[1]) / count;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
