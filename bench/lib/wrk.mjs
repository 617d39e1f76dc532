import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureDebianPackage } from './processes.mjs';

const run = promisify(execFile);
export const WRK = '/usr/bin/wrk';

export const ensureWrk = () => ensureDebianPackage(WRK, 'wrk');

/** A wrk script for a PUT of `bytes` bytes, with extra headers. */
export function putScript(dir, name, bytes, headers = {}) {
  const file = path.join(dir, `${name}.lua`);
  const lines = [`wrk.method = "PUT"`, `wrk.body = string.rep("x", ${bytes})`, ...Object.entries(headers).map(([k, v]) => `wrk.headers["${k}"] = "${v}"`)];
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function toMs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
}

/** One wrk run: requests/s, p99 latency (ms), non-2xx/3xx answers and socket errors. */
export async function wrk(url, { connections = 64, seconds = 5, script } = {}) {
  const args = ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', ...(script ? ['-s', script] : []), url];
  const { stdout } = await run(WRK, args, { maxBuffer: 1 << 20 });
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0),
    p99Ms: toMs(/^\s+99%\s+(\S+)/m.exec(stdout)?.[1] ?? ''),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
    socketErrors: /Socket errors: (.*)/.exec(stdout)?.[1] ?? null,
  };
}
