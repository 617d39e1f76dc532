import t from 'tap';
import http from 'node:http';
import { chunkedPut } from './helpers/upload.js';
import type { DescribedRequest, Problem, Ticket, Verdict } from '../src/index.js';
import type { MiddlewareGuard } from '../plugins/middleware/guarded.js';
import { nodeGateway, type NodeGatewayKind } from './helpers/node-gateways.js';
import { startRawOrigin } from './helpers/raw-origin.js';
import { until } from './helpers/http.js';

// How the middleware moves an admitted body through the app's own proxy:
// metered chunk by chunk, paused while the ticket waits, and stopped at
// the chunk after which the ticket cuts — with a ticket whose cut point
// the test chooses, in front of an origin that counts what arrives.

const KiB = 1024;
const CUT: Problem = { status: 507, error: 'insufficient_storage', detail: 'the upload outgrew the room', suggestedAction: 'free some space' };

/** A ticket that lets `room` bytes pass and cuts the chunk that would go past them; optionally each chunk waits for `gate`. */
class FakeTicket implements Ticket {
  passed = 0;
  offered = 0;
  ends = 0;
  statuses: number[] = [];
  cut: Problem | null = null;
  gate: Promise<void> | null = null;
  constructor(readonly room: number) {}
  chunk(bytes: number): void | Promise<void> {
    this.offered += bytes;
    const decide = (): void => {
      if (this.passed + bytes > this.room) this.cut = CUT;
      else this.passed += bytes;
    };
    if (this.gate) return this.gate.then(decide);
    decide();
  }
  originStatus(status: number): void {
    this.statuses.push(status);
  }
  landed(): null {
    return null;
  }
  end(): void {
    this.ends++;
  }
}

class FakeGuard implements MiddlewareGuard {
  readonly tickets: FakeTicket[] = [];
  readonly checked: DescribedRequest[] = [];
  constructor(readonly room: number) {}
  async check(request: DescribedRequest): Promise<Verdict> {
    this.checked.push(request);
    const ticket = new FakeTicket(this.room);
    this.tickets.push(ticket);
    return { allowed: true, ticket };
  }
  answer(req: http.IncomingMessage, res: http.ServerResponse, problem: Problem): void {
    res.writeHead(problem.status, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ error: problem.error }));
    req.resume();
  }
}

for (const kind of ['express', 'fastify'] as NodeGatewayKind[]) {
  t.test(`${kind}: a chunked body past the ticket's room is cut: the origin gets an incomplete request, the client 507`, async (t) => {
    const origin = await startRawOrigin();
    t.teardown(() => origin.close());
    const guard = new FakeGuard(256 * KiB);
    const app = await nodeGateway(kind, t, guard, origin.url);
    const answer = await chunkedPut(`${app.url}/grows.bin`, 4096 * KiB, 16 * KiB);
    t.equal(answer.status, 507, 'the client reads the cut’s answer');
    t.match(answer.body, /insufficient_storage/);
    await until(() => origin.incomplete === 1, 'the origin to see its request stop');
    t.equal(origin.requests.length, 0, 'the origin never got a complete request (no short complete one)');
    const ticket = guard.tickets[0]!;
    t.ok(origin.bytes <= ticket.passed + 4 * KiB, `the origin got the ${ticket.passed} bytes that passed and no more (${origin.bytes} with head and framing)`);
    t.ok(ticket.passed > 0 && ticket.passed <= 256 * KiB);
    await until(() => ticket.ends === 1, 'the ticket to end');
    t.equal(ticket.ends, 1, 'ended once');
    t.equal(guard.checked[0]!.target, '/dav/grows.bin', 'judged by the URL the client sent, mount path included');
  });

  t.test(`${kind}: a chunk waits while the ticket does, and the body is paused meanwhile`, async (t) => {
    const origin = await startRawOrigin();
    t.teardown(() => origin.close());
    const guard = new FakeGuard(Infinity);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const check = guard.check.bind(guard);
    guard.check = async (request) => {
      const verdict = await check(request);
      guard.tickets.at(-1)!.gate = gate;
      return verdict;
    };
    const app = await nodeGateway(kind, t, guard, origin.url);
    const answer = chunkedPut(`${app.url}/waits.bin`, 8192 * KiB, 16 * KiB);
    await until(() => (guard.tickets[0]?.offered ?? 0) > 0, 'the first chunk to be offered');
    const offered = guard.tickets[0]!.offered;
    await new Promise((r) => setTimeout(r, 200)); // a window in which a body that was not paused would go on
    t.equal(guard.tickets[0]!.offered, offered, 'no further chunk is offered while one waits');
    t.ok(origin.bytes < 1024 * KiB, `the origin got no body bytes past the waiting chunk (${origin.bytes})`);
    open();
    t.equal((await answer).status, 200, 'once the ticket answers, the body goes on and the origin answers');
    t.equal(origin.requests[0]?.body.length, 8192 * KiB);
    t.same(guard.tickets[0]!.statuses, [200], 'the origin’s status is told');
    await until(() => guard.tickets[0]!.ends === 1, 'the ticket to end');
  });
}

t.test('the package exports both by name (./express, ./fastify), built from plugins/middleware/', async (t) => {
  // Specifiers in variables: resolved by Node against the package's exports at run time, after the build.
  const names = ['@headroom-gateway/headroom/express', '@headroom-gateway/headroom/fastify'];
  const [forExpress, forFastify] = (await Promise.all(names.map((name) => import(name)))) as Array<{ headroom: unknown }>;
  t.type(forExpress!.headroom, 'function');
  t.type(forFastify!.headroom, 'function');
});
