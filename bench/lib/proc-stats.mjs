import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Resident set (VmRSS) of a process, in bytes. */
export function rssBytes(pid) {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
}

/** TCP sockets of the host by inode: local and remote port, state (hex as in /proc/net/tcp: 01 established, 0A listen). */
function tcpByInode() {
  const byInode = new Map();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      byInode.set(f[9], { localPort: parseInt(f[1].split(':')[1], 16), remotePort: parseInt(f[2].split(':')[1], 16), state: f[3] });
    }
  }
  return byInode;
}

/**
 * The open file descriptors of a process and, among them, its sockets,
 * each TCP one put in a group by `classify({ localPort, remotePort, state })`.
 */
export function openFiles(pid, classify) {
  const fds = readdirSync(`/proc/${pid}/fd`);
  const tcp = tcpByInode();
  const groups = {};
  let sockets = 0;
  for (const fd of fds) {
    let target;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed while listing
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode === undefined) continue;
    sockets++;
    const entry = tcp.get(inode);
    const group = entry ? classify(entry) : 'other';
    groups[group] = (groups[group] ?? 0) + 1;
  }
  return { fds: fds.length, sockets, groups };
}

/** CPU time (user + system) a process has used, in seconds, and when it was read. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux).
  return { total: (Number(fields[11]) + Number(fields[12])) / 100, at: Date.now() };
}
