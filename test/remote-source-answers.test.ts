import t, { type Test } from 'tap';
import http from 'node:http';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { request, serve, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';

// Careless and hostile sources: every bad answer is an error that says what
// to do, on the volume or the origin; the gateway never crashes and never
// uses a figure it made up (the last good snapshot stays, and ages).

const MiB = 1024 * 1024;
const VOLUME = '/srv/data';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/** A server whose answers the test scripts; counts requests. */
async function scripted(t: Test, first: Handler): Promise<{ url: string; set: (h: Handler) => void; requests: string[] }> {
  let handler = first;
  const requests: string[] = [];
  const url = await serve(t, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests.push(body);
      handler(req, res, body);
    });
  });
  return { url, set: (h) => (handler = h), requests };
}

const text = (body: string, status = 200): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'text/plain; version=0.0.4' });
  res.end(body);
};

interface Fs {
  mount?: string;
  device?: string;
  size?: string;
  avail?: string;
  files?: string;
  free?: string;
  deviceError?: string;
}

/** node_exporter's filesystem lines for one filesystem. */
function filesystem({ mount = VOLUME, device = '/dev/sdb1', size = String(16 * MiB), avail = String(10 * MiB), files = '1000', free = '900', deviceError = '0' }: Fs = {}): string {
  const labels = `{device="${device}",fstype="ext4",mountpoint="${mount}"}`;
  return [
    `node_filesystem_avail_bytes${labels} ${avail}`,
    `node_filesystem_device_error${labels} ${deviceError}`,
    `node_filesystem_files${labels} ${files}`,
    `node_filesystem_files_free${labels} ${free}`,
    `node_filesystem_size_bytes${labels} ${size}`,
  ].join('\n');
}

const exposition = (...filesystems: string[]) => `# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.\n# TYPE node_filesystem_avail_bytes gauge\n${filesystems.join('\n')}\nnode_time_seconds 1.7e9\n`;

interface Status {
  origins: Array<{ name: string; remoteSource: string | null; lastAgentError: string | null; volumes: Array<{ volume: string; availableBytes: number | null; fresh: boolean; snapshotAgeMs: number | null; lastError: string | null; source: string | null }> }>;
}

async function status(gateway: RunningGateway): Promise<Status> {
  return JSON.parse((await request(`http://127.0.0.1:${gateway.adminAddress.port}/status`)).body.toString()) as Status;
}

async function gatewayWith(t: Test, origins: (originUrl: string) => unknown[], routes: unknown[], policy: Record<string, unknown> = {}): Promise<RunningGateway> {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  return gatewayFor(t, origin.url, { origins: origins(origin.url), routes, policy: { reserve: '1MiB', staleAfter: '2s', ...policy } });
}

t.test('node_exporter answers that cannot be used: an error on the volume or the origin, the last figures kept', async (t) => {
  const exporter = await scripted(t, text(exposition(filesystem())));
  const gateway = await gatewayWith(t, (url) => [{ name: 'files', url, headroom: { nodeExporter: { url: `${exporter.url}/metrics`, interval: '50ms', timeout: '300ms', maxAnswerSize: '64KiB' } } }], [{ origin: 'files', volume: VOLUME }]);
  await until(async () => (await status(gateway)).origins[0]!.volumes[0]?.availableBytes === 10 * MiB, 'the first good scrape');
  t.equal((await status(gateway)).origins[0]!.remoteSource, 'nodeExporter', '/status names the origin’s source');
  const state = gateway.registry.get('files', VOLUME)!;

  const onVolume: Array<[string, string, RegExp]> = [
    ['two filesystems at the mountpoint (a mount over a mount)', exposition(filesystem(), filesystem({ device: '/dev/sdc1', avail: String(15 * MiB) })), /reports 2 filesystems at \/srv\/data: \/dev\/sdb1 \(ext4\), \/dev\/sdc1 \(ext4\); .*unmount the one underneath/],
    ['a device error', exposition(filesystem({ deviceError: '1' })), /could not read the filesystem at \/srv\/data \(node_filesystem_device_error 1\)/],
    ['the mountpoint not reported', exposition(filesystem({ mount: '/srv/other' })), /reports no filesystem mounted at \/srv\/data: name the volume by its mountpoint/],
    ['NaN', exposition(filesystem({ avail: 'NaN' })), /node_filesystem_avail_bytes of \/srv\/data is NaN: expected a count/],
    ['+Inf', exposition(filesystem({ size: '+Inf' })), /node_filesystem_size_bytes of \/srv\/data is Infinity/],
    ['a negative figure', exposition(filesystem({ free: '-5' })), /node_filesystem_files_free of \/srv\/data is -5/],
    ['available above the size', exposition(filesystem({ avail: String(17 * MiB) })), /node_filesystem_avail_bytes of \/srv\/data \(17825792\) is above node_filesystem_size_bytes/],
  ];
  for (const [what, body, error] of onVolume) {
    exporter.set(text(body));
    await until(async () => error.test((await status(gateway)).origins[0]!.volumes[0]!.lastError ?? ''), `${what} to show on the volume`);
    t.pass(`${what}: ${(await status(gateway)).origins[0]!.volumes[0]!.lastError}`);
    t.equal(state.snapshot!.availableBytes, 10 * MiB, `${what}: no figure from it is used`);
    exporter.set(text(exposition(filesystem())));
    await until(() => state.lastError === null, 'a good scrape again');
  }

  const endless: Handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const line = Buffer.from(`${filesystem({ mount: '/x' })}\n`);
    const more = (): void => void (res.write(line) ? setImmediate(more) : res.once('drain', more));
    res.on('close', () => res.removeAllListeners('drain'));
    more();
  };
  const onOrigin: Array<[string, Handler, RegExp]> = [
    ['garbage', text('hello world\n'), /not Prometheus text: line 1: value "world" is not a number/],
    ['an HTML page', text('<html><body>502 Bad Gateway</body></html>'), /not Prometheus text: line 1: expected a metric name/],
    ['an unterminated label', text(`${filesystem()}\nnode_filesystem_size_bytes{mountpoint="/srv/data 5\n`), /line 6: label mountpoint: unterminated/],
    ['the same series twice', text(exposition(filesystem(), `node_filesystem_avail_bytes{device="/dev/sdb1",fstype="ext4",mountpoint="${VOLUME}"} 1`)), /line \d+: the series of line 3 again/],
    ['a never-ending body', endless, /answer larger than 65536 bytes: raise maxAnswerSize/],
    ['a server that does not answer', () => undefined, /no answer within 300 ms: raise timeout/],
    ['a wrong path', text('404 page not found', 404), /HTTP 404: check that url names node_exporter's metrics path/],
  ];
  for (const [what, handler, error] of onOrigin) {
    exporter.set(handler);
    await until(async () => error.test((await status(gateway)).origins[0]!.lastAgentError ?? ''), `${what} to show on the origin`);
    t.pass(`${what}: ${(await status(gateway)).origins[0]!.lastAgentError}`);
    t.equal(state.snapshot!.availableBytes, 10 * MiB, `${what}: no figure from it is used`);
  }
  t.ok(gateway.registry.get('files', '/x') === undefined, 'a mount no route names never enters the registry');
});

/** A Prometheus stand-in: answers each figure its combined query asks for by `answer(id, time)`. */
function prometheusAnswer(answer: (id: string, time: number) => Array<[value: string, measuredAt: number]>): Handler {
  return (_req, res, body) => {
    const form = new URLSearchParams(body);
    const time = Number(form.get('time'));
    const ids = [...new Set([...(form.get('query') ?? '').matchAll(/"headroom_figure", "v([^"]+)"/g)].map((m) => m[1]!))];
    const result = ids.flatMap((id) => answer(id, time).flatMap(([value, at], n) => [
      { metric: { headroom_figure: `v${id}`, n: String(n) }, value: [time, value] },
      { metric: { headroom_figure: `t${id}`, n: String(n) }, value: [time, String(at)] },
    ]));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  };
}

const figures: Record<string, string> = { totalBytes: String(16 * MiB), availableBytes: String(10 * MiB) };
const fine = prometheusAnswer((id, time) => [[figures[id.split('_')[1]!]!, time - 0.2]]);

t.test('Prometheus answers that cannot be used, and one query per interval for every origin on that server', async (t) => {
  const prometheus = await scripted(t, fine);
  const source = { url: prometheus.url, interval: '50ms', timeout: '300ms', maxAnswerSize: '64KiB' };
  const volume = (name: string) => ({ name, total: `size{v="${name}"}`, available: `avail{v="${name}"}` });
  const gateway = await gatewayWith(t, (url) => [
    { name: 'files', url, headroom: { prometheus: { ...source, volumes: [volume('data')] } } },
    { name: 'db', url, headroom: { prometheus: { ...source, volumes: [volume('pg')] } } },
  ], [{ match: { pathPrefix: '/db/' }, origin: 'db', volume: 'pg' }, { origin: 'files', volume: 'data' }]);
  await until(async () => (await status(gateway)).origins.every((o) => o.volumes[0]?.fresh === true), 'both origins’ first figures');

  const before = prometheus.requests.length;
  await until(() => prometheus.requests.length >= before + 5, 'five more polls');
  const queries = prometheus.requests.slice(before).map((body) => new URLSearchParams(body).get('query')!);
  t.ok(queries.every((q) => q.includes('size{v="data"}') && q.includes('avail{v="pg"}')), `each of ${queries.length} queries asks for the figures of both origins: one query per interval`);
  const state = gateway.registry.get('files', 'data')!;

  const cases: Array<[string, Handler, RegExp]> = [
    ['two samples', prometheusAnswer((id, time) => (id === '0_availableBytes' ? [['1', time], ['2', time]] : [[figures[id.split('_')[1]!]!, time]])), /volumes\[0\]\.available: "avail\{v=\\"data\\"\}" gave 2 samples \(narrow the selector by its labels, or aggregate/],
    ['no sample', prometheusAnswer((id, time) => (id === '0_totalBytes' ? [] : [[figures[id.split('_')[1]!]!, time]])), /volumes\[0\]\.total: "size\{v=\\"data\\"\}" gave no sample \(no such series, or it went stale/],
    ['NaN', prometheusAnswer((id, time) => [[id === '0_availableBytes' ? 'NaN' : figures[id.split('_')[1]!]!, time]]), /volumes\[0\]\.available is NaN: expected a count/],
    ['a negative figure', prometheusAnswer((id, time) => [[id === '0_availableBytes' ? '-1' : figures[id.split('_')[1]!]!, time]]), /volumes\[0\]\.available is -1/],
    ['available above total', prometheusAnswer((id, time) => [[id === '0_availableBytes' ? String(20 * MiB) : figures[id.split('_')[1]!]!, time]]), /volumes\[0\]\.available \(20971520\) is above origins\[0\]\.headroom\.prometheus\.volumes\[0\]\.total/],
    ['no sample time', (req, res, body) => {
      const inner = prometheusAnswer((id, time) => [[figures[id.split('_')[1]!]!, time]]);
      const end = res.end.bind(res);
      res.end = ((chunk: string) => {
        const answer = JSON.parse(chunk) as { data: { result: Array<{ metric: Record<string, string> }> } };
        answer.data.result = answer.data.result.filter((r) => r.metric.headroom_figure !== 't0_availableBytes');
        return end(JSON.stringify(answer));
      }) as typeof res.end;
      inner(req, res, body);
    }, /volumes\[0\]\.available: the answer gave no sample time for "avail\{v=\\"data\\"\}": is url a Prometheus server\?/],
  ];
  for (const [what, handler, error] of cases) {
    prometheus.set(handler);
    await until(async () => error.test((await status(gateway)).origins[0]!.volumes[0]!.lastError ?? ''), `${what} to show on the volume`);
    t.pass(`${what}: ${(await status(gateway)).origins[0]!.volumes[0]!.lastError}`);
    t.equal(state.snapshot!.availableBytes, 10 * MiB, `${what}: no figure from it is used`);
    prometheus.set(fine);
    await until(() => state.lastError === null, 'good figures again');
  }

  const onOrigins: Array<[string, Handler, RegExp]> = [
    ['not JSON', text('<html>bad gateway</html>', 502), /HTTP 502, not JSON: "<html>bad gateway<\/html>": check that url names the Prometheus server/],
    ['a huge answer', text('x'.repeat(200 * 1024)), /answer larger than 65536 bytes: raise maxAnswerSize/],
    ['a server that does not answer', () => undefined, /no answer within 300 ms: raise timeout/],
  ];
  for (const [what, handler, error] of onOrigins) {
    prometheus.set(handler);
    await until(async () => (await status(gateway)).origins.every((o) => error.test(o.lastAgentError ?? '')), `${what} to show on both origins`);
    t.pass(`${what}: ${(await status(gateway)).origins[0]!.lastAgentError}`);
    t.equal(state.snapshot!.availableBytes, 10 * MiB, `${what}: no figure from it is used`);
  }

});

t.test('a figure Prometheus scraped long ago is as old as its sample, however recent the query', async (t) => {
  const prometheus = await scripted(t, prometheusAnswer((id, time) => [[figures[id.split('_')[1]!]!, time - 30]]));
  const gateway = await gatewayWith(t, (url) => [{ name: 'files', url, headroom: { prometheus: { url: prometheus.url, interval: '50ms', volumes: [{ name: 'data', total: 'size', available: 'avail' }] } } }], [{ origin: 'files', volume: 'data' }]);
  await until(() => gateway.registry.get('files', 'data')?.snapshot != null, 'the figures to be read');
  const old = (await status(gateway)).origins[0]!.volumes[0]!;
  t.equal(old.availableBytes, 10 * MiB, 'the figures are read');
  t.equal(old.fresh, false, 'but not fresh: scraped 30 s ago, past staleAfter');
  t.ok(old.snapshotAgeMs! >= 30_000, `its age is its sample's: ${old.snapshotAgeMs} ms`);
});

t.test('bytes written between Prometheus’s scrape and the query still count: the written mark is the scrape’s', async (t) => {
  const prometheus = await scripted(t, prometheusAnswer((id, time) => [[figures[id.split('_')[1]!]!, time - 1]]));
  const gateway = await gatewayWith(t, (url) => [{ name: 'files', url, headroom: { prometheus: { url: prometheus.url, interval: '50ms', volumes: [{ name: 'data', total: 'size', available: 'avail' }] } } }], [{ origin: 'files', volume: 'data' }], { staleAfter: '5s' });
  const state = gateway.registry.get('files', 'data')!;
  await until(() => state.snapshot != null, 'the first figures');
  const put = await request(`${gateway.url}/a.bin`, { method: 'PUT', headers: { 'content-length': String(2 * MiB) } }, Buffer.alloc(2 * MiB));
  t.equal(put.status, 201);
  const stored = Date.now();
  // Snapshots of scrapes before the write ended, brought by queries after it.
  await until(() => state.snapshot!.takenAt > stored - 1000 + 300, 'a query well after the write, of a scrape before it ended');
  t.ok(state.snapshot!.takenAt < stored, 'that snapshot was measured before the write ended');
  t.ok(state.writtenSinceSnapshot >= 2 * MiB, `so the write is not taken as shown by it: ${state.writtenSinceSnapshot} bytes counted since`);
});
