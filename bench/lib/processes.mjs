import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';

export async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

export async function waitForPort(port, what, deadlineMs = 15_000) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > end) throw new Error(`${what} did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A child process, killed when the bench exits. */
export function start(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'], ...options });
  process.on('exit', () => child.kill('SIGKILL'));
  return child;
}

export async function stop(child) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** Peak resident set (VmHWM) of a process, in MiB. */
export function peakRssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)[1]) / 1024;
}

let packageListsFresh = false;

/** A program from Debian's packages, installed on first use (the bench installs nothing by hand). */
export function ensureDebianPackage(binary, pkg) {
  if (existsSync(binary)) return;
  console.error(`${pkg} is missing; installing Debian's ${pkg} (apt-get install -y ${pkg}) …`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    // A fresh machine may have no package lists yet: read them once per run.
    if (!packageListsFresh) execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    packageListsFresh = true;
    execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'inherit', env });
  } catch {
    throw new Error(`cannot install ${pkg}: run \`apt-get update && apt-get install -y ${pkg}\` as root, then \`npm run bench\` again`);
  }
}
