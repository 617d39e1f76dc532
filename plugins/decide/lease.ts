import { randomUUID } from 'node:crypto';
import type { Ticket } from '../../src/index.js';

/** How long an allowed write may hold its room when no end signal comes. */
export interface LeaseTiming {
  /** Bytes per second the slowest upload the lease waits for sends. */
  readonly minRate: number;
  /** The shortest lease (ms): even a small write gets this long to land. */
  readonly min: number;
  /** The longest lease (ms): after it the room is given back, however large the write. */
  readonly max: number;
}

/** The lease for `bytes` (ms): the time it takes at minRate, between the floor and the ceiling. */
export function leaseTime(bytes: number, timing: LeaseTiming): number {
  return Math.min(timing.max, Math.max(timing.min, Math.ceil((bytes / timing.minRate) * 1000)));
}

/** The origin's status in nginx's `$upstream_status`: its last figure ("502, 201" after a retry); none for "-". */
export function originStatusOf(upstreamStatus: string): number | undefined {
  const status = Number(/(\d{3})\s*$/.exec(upstreamStatus)?.[1]);
  return Number.isInteger(status) ? status : undefined;
}

interface Lease {
  readonly ticket: Ticket;
  /** Counted as written when the lease ends: the proxy moved them, the endpoint never saw them. */
  readonly bytes: number;
  readonly timer: NodeJS.Timeout;
}

/** How a lease ended: the proxy's end signal, a snapshot that showed its bytes landed, its time, or the endpoint closing. */
export type LeaseEnd = 'signal' | 'landed' | 'time' | 'closed';

/**
 * Allowed writes whose proxy moves the body: each holds its ticket until
 * the proxy says the exchange is over, a snapshot shows its bytes landed
 * (the ticket's `landed`), or its lease runs out. Either way the declared
 * bytes are then counted as written (the ticket's `chunk`), so the room
 * stays taken until a snapshot that shows them.
 */
export class LeaseBook {
  private readonly leases = new Map<string, Lease>();
  /** Leases ended, by how, since the endpoint started. */
  readonly ended: Record<LeaseEnd, number> = { signal: 0, landed: 0, time: 0, closed: 0 };

  constructor(private timing: LeaseTiming) {}

  retime(timing: LeaseTiming): void {
    this.timing = timing;
  }

  /** Holds `ticket` for `bytes`; returns the lease's id, which ends it early. */
  open(ticket: Ticket, bytes: number): string {
    const id = randomUUID();
    const timer = setTimeout(() => void this.end(id, 'time'), leaseTime(bytes, this.timing));
    timer.unref();
    this.leases.set(id, { ticket, bytes, timer });
    void ticket.landed()?.then(() => this.end(id, 'landed'));
    return id;
  }

  /** Ends a lease (once; an unknown or ended id is nothing to do); `originStatus` is the origin's answer where the proxy tells it. */
  async end(id: string, how: LeaseEnd, originStatus?: number): Promise<void> {
    const lease = this.leases.get(id);
    if (lease === undefined) return;
    this.leases.delete(id);
    this.ended[how]++;
    clearTimeout(lease.timer);
    try {
      if (originStatus !== undefined) lease.ticket.originStatus(originStatus);
      await lease.ticket.chunk(lease.bytes);
    } finally {
      lease.ticket.end();
    }
  }

  get size(): number {
    return this.leases.size;
  }

  /** Ends every lease (the endpoint closes): what they hold is given back. */
  async close(): Promise<void> {
    await Promise.all([...this.leases.keys()].map((id) => this.end(id, 'closed')));
  }
}
