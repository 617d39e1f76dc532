import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { Redis, type RedisOptions, type Result } from 'ioredis';
import type { Logger } from '../log/log.js';
import { ClockOffset } from './clock-offset.js';
import type { GrowAnswer, Ledger, LedgerStatus, Reservation, ReserveAnswer, ReserveRequest, Written } from './ledger.js';
import { growScript, releaseScript, renewScript, reserveScript, VOLUME_KEYS } from './lease-script.js';
import { MemoryLedger } from './memory-ledger.js';
import { unbracketed } from '../http/host.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    headroomReserve(...args: Array<string | number>): Result<number[], Context>;
    headroomGrow(...args: Array<string | number>): Result<number[], Context>;
    headroomRenew(...args: Array<string | number>): Result<number[], Context>;
    headroomRelease(...args: Array<string | number>): Result<number[], Context>;
  }
}

export interface RedisLedgerOptions {
  /** redis:// or rediss:// URL, with credentials and database when needed. */
  readonly url: string;
  /** Sentinel: the master's name and the sentinels' host:port; none when the name is empty. */
  readonly sentinel: { readonly name: string; readonly addresses: readonly string[] };
  /** How long a lease lives without renewal. */
  readonly leaseTimeMs: number;
  /** The longest a question to Redis may take before it counts as unanswered. */
  readonly timeoutMs: number;
  readonly onUnavailable: 'reject' | 'local';
  /** How long written records must count: longer than any snapshot this gateway trusts. */
  readonly keepMs: () => number;
  readonly logger: Logger;
  /** This process's clock, as snapshots are dated (`Date.now`; another only in tests of clocks that disagree). */
  readonly now?: () => number;
}

/** Whether writes are judged by the shared ledger now, by this process alone, or refused. */
type LedgerState = 'shared' | 'local' | 'unavailable';

/**
 * Reservations shared by every gateway (replica) on one Redis, as leases
 * (lease-book.ts explains the model; lease-script.ts runs it). Each lease
 * has this process as its owner and an expiry on Redis' clock that is
 * renewed while its exchange lasts, so a replica that crashes or is cut
 * off loses its reservations within the lease time.
 *
 * When Redis does not answer within the timeout, `onUnavailable` says
 * what happens to writes until it does: refused (503), or judged by this
 * process alone against its own holds; the leases it grants meanwhile are
 * written to Redis by the renewal that finds it back (docs/ledger.md).
 */
export class RedisLedger implements Ledger {
  readonly immediate = false;
  readonly shared = true;
  readonly owner = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  readonly #client: Redis;
  readonly #options: RedisLedgerOptions;
  /** This process's holds (granted less streamed): its part of the figures, and what it judges alone on. */
  readonly #own = new MemoryLedger();
  readonly #volumes = new Map<string, VolumeFigures>();
  readonly #leases = new Set<RedisLease>();
  readonly #clock: ClockOffset;
  readonly #renewal: NodeJS.Timeout;
  #state: LedgerState;
  #lastError: string | null = 'not connected yet';
  /** The connection's own failure (refused, NOAUTH, not Redis) while it is not ready: why questions fail at once. */
  #connectionError: string | null = null;
  /** Redis answered on this connection at least once: a connection closed later is Redis going away, not a server that is not Redis. */
  #everReady = false;
  #renewing: Promise<void> | null = null;
  #sequence = 0;
  /** Times a question went unanswered and writes fell to `onUnavailable`. */
  #unavailable = 0;

  constructor(options: RedisLedgerOptions) {
    this.#options = options;
    this.#state = this.#fallback();
    this.#clock = new ClockOffset(options.leaseTimeMs);
    this.#client = new Redis(clientOptions(options));
    for (const [name, lua] of [
      ['headroomReserve', reserveScript],
      ['headroomGrow', growScript],
      ['headroomRenew', renewScript],
      ['headroomRelease', releaseScript],
    ] as const) {
      this.#client.defineCommand(name, { numberOfKeys: VOLUME_KEYS, lua });
    }
    this.#client.on('error', (err: Error) => {
      // A write into a connection the far end closed says less than why it
      // closed it (a reply that was not Redis', say): the first error stays.
      if (closedUnder(err.message) && this.#connectionError !== null) return;
      const message = this.#explained(err.message);
      this.#lastError = message; // shown while Redis does not answer: why it does not
      this.#connectionError = message;
      options.logger.debug({ msg: 'ledger: Redis connection error', error: err.message });
    });
    this.#client.on('ready', () => {
      this.#everReady = true;
      this.#connectionError = null;
      void this.renew();
    });
    this.#renewal = setInterval(() => void this.renew(), Math.max(50, Math.floor(options.leaseTimeMs / 3)));
    this.#renewal.unref();
  }

  describe(): LedgerStatus {
    return { backend: 'redis', state: this.#state, lastError: this.#state === 'shared' ? null : this.#lastError, unavailable: this.#unavailable };
  }

  reserve(request: ReserveRequest): ReserveAnswer | Promise<ReserveAnswer> {
    if (this.#state !== 'shared') return this.#alone(request);
    const id = `${this.owner}#${++this.#sequence}`;
    const since = request.since === null ? -1 : this.#clock.toServer(request.since);
    return this.#ask(
      this.#client.headroomReserve(...keysOf(request.volumeKey), this.owner, id, request.bytes, request.inodes, bound(request.roomBytes), bound(request.roomInodes), since, this.#options.leaseTimeMs, this.#options.keepMs()),
      (reply): ReserveAnswer => {
        const reservation = reply[0] === 1 ? this.#lease(id, request, true) : null;
        this.#heard(request.volumeKey, reply[5]!, reply[6]!, reply[7]!);
        if (reservation) return { granted: true, reservation };
        return { granted: false, reservedBytes: reply[1]!, reservedInodes: reply[2]!, writtenBytes: reply[3]!, writtenInodes: reply[4]! };
      },
      () => this.#alone(request),
    );
  }

  /** As of the last answer about the volume; a volume asked about is kept current by the renewals from then on. */
  reservedBytes(volumeKey: string): number {
    return this.#own.reservedBytes(volumeKey) + this.#volume(volumeKey).othersBytes;
  }

  reservedInodes(volumeKey: string): number {
    return this.#own.reservedInodes(volumeKey) + this.#volume(volumeKey).othersInodes;
  }

  totalReservedBytes(): number {
    let others = 0;
    for (const v of this.#volumes.values()) others += v.othersBytes;
    return this.#own.totalReservedBytes() + others;
  }

  totalReservedInodes(): number {
    let others = 0;
    for (const v of this.#volumes.values()) others += v.othersInodes;
    return this.#own.totalReservedInodes() + others;
  }

  /**
   * Resolves once Redis has answered (writes are then judged by the shared
   * ledger), or after `withinMs` without an answer: a gateway starts
   * either way, and a Redis that comes up later is found by the renewals.
   */
  async connected(withinMs: number): Promise<boolean> {
    if (this.#client.status !== 'ready') {
      // Not events.once: a refused connection emits 'error', and the client keeps trying.
      const ready = new Promise<true>((resolve) => this.#client.once('ready', () => resolve(true)));
      const late = new Promise<false>((resolve) => setTimeout(resolve, withinMs, false).unref());
      if (!(await Promise.race([ready, late]))) return false;
    }
    await this.renew();
    return this.#state === 'shared';
  }

  /**
   * Moves every live lease's expiry on (writing to Redis those it lost or
   * never had) and refreshes the figures of every volume seen; the first
   * that succeeds after an outage returns writes to the shared ledger.
   */
  renew(): Promise<void> {
    this.#renewing ??= this.#renewAll().finally(() => (this.#renewing = null));
    return this.#renewing;
  }

  async close(): Promise<void> {
    clearInterval(this.#renewal);
    await this.#renewing;
    await this.#client.quit().catch(() => this.#client.disconnect());
  }

  async #renewAll(): Promise<void> {
    const byVolume = new Map<string, RedisLease[]>();
    // A volume nobody asked about since the last renewal (a reload removed it, say) and with no lease is let go of.
    for (const [key, figures] of this.#volumes) {
      if (figures.asked) byVolume.set(key, []);
      else this.#volumes.delete(key);
      figures.asked = false;
    }
    for (const lease of this.#leases) {
      const leases = byVolume.get(lease.volumeKey);
      if (leases) leases.push(lease);
      else byVolume.set(lease.volumeKey, [lease]);
    }
    try {
      if (byVolume.size === 0) await this.#client.ping();
      await Promise.all(
        [...byVolume].map(async ([volumeKey, leases]) => {
          const args = leases.flatMap((l) => [l.id, l.granted, l.inodesHeld, l.consumed]);
          const sent = leases.map((l) => l.consumed);
          const reply = await this.#client.headroomRenew(...keysOf(volumeKey), this.owner, this.#options.leaseTimeMs, ...args);
          leases.forEach((l, i) => l.synced(sent[i]!));
          this.#heard(volumeKey, reply[0]!, reply[1]!, reply[2]!);
        }),
      );
      if (this.#state !== 'shared') {
        this.#state = 'shared';
        this.#lastError = null;
        this.#options.logger.info({ msg: 'ledger: Redis answers; writes are judged by the shared ledger' });
      }
    } catch (err) {
      this.#unanswered(err);
    }
  }

  /** A question to Redis: its answer, or what `onUnavailable` says when it has none in time. */
  #ask<R, T>(question: Promise<R>, answered: (reply: R) => T, unanswered: () => T): Promise<T> {
    return question.then(answered, (err: unknown) => {
      this.#unanswered(err);
      return unanswered();
    });
  }

  /** A connection closed under a question before Redis ever answered on it: most likely not a Redis server at all. */
  #explained(message: string): string {
    if (this.#everReady || !closedUnder(message)) return message;
    return `${message}: the server closed the connection; is ${targetOf(this.#options)} a Redis server, and does it take this protocol (TLS or not)?`;
  }

  #unanswered(err: unknown): void {
    // A question refused at once because the connection is down says only that; the connection's error says why.
    const message = this.#client.status !== 'ready' && this.#connectionError !== null ? this.#connectionError : this.#explained(err instanceof Error ? err.message : String(err));
    this.#lastError = message;
    if (this.#state !== 'shared') return;
    this.#state = this.#fallback();
    this.#unavailable++;
    const judged = this.#state === 'local' ? 'judged by this gateway alone' : 'refused with 503';
    this.#options.logger.warn({ msg: `ledger: Redis does not answer (${message}); writes are ${judged} until it does`, onUnavailable: this.#options.onUnavailable });
  }

  #fallback(): LedgerState {
    return this.#options.onUnavailable === 'local' ? 'local' : 'unavailable';
  }

  /** Judged without Redis: by this process's own holds, or refused. */
  #alone(request: ReserveRequest): ReserveAnswer {
    if (this.#state === 'unavailable') return { granted: false, unavailable: `Redis: ${this.#lastError ?? 'no answer'}` };
    const fits = this.#own.reservedBytes(request.volumeKey) + request.bytes <= request.roomBytes && (request.inodes === 0 || this.#own.reservedInodes(request.volumeKey) + request.inodes <= request.roomInodes);
    if (!fits) return { granted: false, reservedBytes: this.#own.reservedBytes(request.volumeKey), reservedInodes: this.#own.reservedInodes(request.volumeKey), writtenBytes: 0, writtenInodes: 0 };
    return { granted: true, reservation: this.#lease(`${this.owner}#${++this.#sequence}`, request, false) };
  }

  #lease(id: string, request: ReserveRequest, known: boolean): RedisLease {
    const held = this.#own.reserve({ ...request, roomBytes: Infinity, roomInodes: Infinity });
    if (!held.granted) throw new Error('a memory ledger with unbounded room refused a hold');
    const lease = new RedisLease(this, id, request.volumeKey, request.bytes, request.inodes, held.reservation, known);
    this.#leases.add(lease);
    this.#volume(request.volumeKey);
    return lease;
  }

  #volume(volumeKey: string): VolumeFigures {
    let figures = this.#volumes.get(volumeKey);
    if (!figures) this.#volumes.set(volumeKey, (figures = { othersBytes: 0, othersInodes: 0, asked: true }));
    figures.asked = true;
    return figures;
  }

  /** An answer's time and the volume's held figures over all owners; this process's part is its own. */
  #heard(volumeKey: string, serverNow: number, clusterBytes: number, clusterInodes: number): void {
    this.#clock.sample(serverNow, (this.#options.now ?? Date.now)());
    let mineBytes = 0;
    let mineInodes = 0;
    for (const lease of this.#leases) {
      if (lease.volumeKey !== volumeKey || !lease.known) continue;
      mineBytes += lease.granted - lease.syncedConsumed;
      mineInodes += lease.inodesHeld;
    }
    const figures = this.#volume(volumeKey);
    figures.othersBytes = Math.max(0, clusterBytes - mineBytes);
    figures.othersInodes = Math.max(0, clusterInodes - mineInodes);
  }

  /** For leases: asks Redis to grow one, or grows it alone. */
  grow(lease: RedisLease, bytes: number, roomBytes: number, since: number | null): GrowAnswer | Promise<GrowAnswer> {
    if (this.#state !== 'shared') return this.#growAlone(lease, bytes, roomBytes);
    const consumed = lease.consumed;
    return this.#ask(
      this.#client.headroomGrow(...keysOf(lease.volumeKey), this.owner, lease.id, lease.granted, lease.inodesHeld, consumed, bytes, bound(roomBytes), since === null ? -1 : this.#clock.toServer(since), this.#options.leaseTimeMs, this.#options.keepMs()),
      (reply): GrowAnswer => {
        lease.known = true;
        lease.synced(consumed);
        const answer = reply[0] === 1 && !lease.released ? lease.held(bytes) : 'refused';
        this.#heard(lease.volumeKey, reply[5]!, reply[6]!, reply[7]!);
        return answer;
      },
      () => this.#growAlone(lease, bytes, roomBytes),
    );
  }

  #growAlone(lease: RedisLease, bytes: number, roomBytes: number): GrowAnswer {
    if (this.#state === 'unavailable') return 'unavailable';
    return this.#own.reservedBytes(lease.volumeKey) + bytes <= roomBytes ? lease.held(bytes) : 'refused';
  }

  /** For leases: the lease ends; Redis is told when it answers (else the lease expires there). */
  released(lease: RedisLease, written: Written): void {
    this.#leases.delete(lease);
    // Sent even for a lease Redis never held: what the exchange wrote counts for the others.
    this.#client.headroomRelease(...keysOf(lease.volumeKey), this.owner, lease.id, written.bytes, written.inodes).then(
      (reply) => this.#heard(lease.volumeKey, reply[0]!, reply[1]!, reply[2]!),
      (err: unknown) => this.#unanswered(err),
    );
  }
}

interface VolumeFigures {
  /** Held by other owners, as of the last answer about the volume. */
  othersBytes: number;
  othersInodes: number;
  /** Asked about since the last renewal. */
  asked: boolean;
}

class RedisLease implements Reservation {
  /** Bytes granted over the lease's life; Redis holds them until it ends. */
  granted: number;
  /** Of them, streamed so far (this process's own count has them). */
  consumed = 0;
  /** `consumed` as Redis last heard it. */
  syncedConsumed = 0;
  released = false;

  constructor(
    private readonly ledger: RedisLedger,
    readonly id: string,
    readonly volumeKey: string,
    bytes: number,
    readonly inodesHeld: number,
    private readonly local: Reservation,
    /** Redis holds the lease (false while granted alone, until a renewal writes it there). */
    public known: boolean,
  ) {
    this.granted = bytes;
  }

  get bytes(): number {
    return this.local.bytes;
  }

  get inodes(): number {
    return this.local.inodes;
  }

  consume(bytes: number): void {
    if (this.released) return;
    const taken = Math.min(bytes, this.local.bytes);
    this.local.consume(taken);
    this.consumed += taken;
  }

  grow(bytes: number, roomBytes: number, since: number | null): GrowAnswer | Promise<GrowAnswer> {
    if (this.released) return 'refused';
    return this.ledger.grow(this, bytes, roomBytes, since);
  }

  /** Redis (or this process alone) granted `bytes` more. */
  held(bytes: number): GrowAnswer {
    this.granted += bytes;
    this.local.grow(bytes, Infinity, null);
    return 'held';
  }

  synced(consumed: number): void {
    this.known = true;
    this.syncedConsumed = Math.max(this.syncedConsumed, consumed);
  }

  release(written: Written = { bytes: 0, inodes: 0 }): void {
    if (this.released) return;
    this.released = true;
    this.local.release();
    this.ledger.released(this, written);
  }
}

/** The keys of one volume's lease book (lease-script.ts); the braces keep them in one slot of a Redis Cluster. */
function keysOf(volumeKey: string): string[] {
  const tag = `headroom:{${encodeURIComponent(volumeKey)}}`;
  return [`${tag}:leases`, `${tag}:expiries`, `${tag}:totals`, `${tag}:written`, `${tag}:written-by-time`];
}

/** A room for the script: -1 for unbounded. */
function bound(room: number): number {
  return room === Infinity ? -1 : Math.max(0, Math.floor(room));
}

/** The far end closed the connection while something was being written or read. */
const closedUnder = (message: string): boolean => /EPIPE|ECONNRESET/.test(message);

/** Where the ledger's Redis is, for a message: host:port, or the sentinels' master. */
function targetOf(options: RedisLedgerOptions): string {
  return options.sentinel.name === '' ? new URL(options.url).host : `the master "${options.sentinel.name}" of ${options.sentinel.addresses.join(', ')}`;
}

function clientOptions(options: RedisLedgerOptions): RedisOptions {
  const url = new URL(options.url);
  const common: RedisOptions = {
    // A question asked while disconnected fails at once instead of waiting
    // in a queue: the write is judged by onUnavailable, not held.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.timeoutMs,
    connectTimeout: Math.max(options.timeoutMs, 1000),
    retryStrategy: (times) => Math.min(times * 100, 1000),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    // Verified against the system's CAs (and NODE_EXTRA_CA_CERTS); SNI only for a name, never an address.
    tls: url.protocol === 'rediss:' ? (isIP(unbracketed(url.hostname)) ? {} : { servername: url.hostname }) : undefined,
  };
  if (options.sentinel.name === '') return { ...common, host: unbracketed(url.hostname), port: url.port ? Number(url.port) : 6379 };
  return {
    ...common,
    name: options.sentinel.name,
    sentinels: options.sentinel.addresses.map((address) => {
      const at = address.lastIndexOf(':');
      return { host: unbracketed(address.slice(0, at)), port: Number(address.slice(at + 1)) };
    }),
    sentinelPassword: common.password,
    enableTLSForSentinelMode: url.protocol === 'rediss:',
  };
}
