import t from 'tap';
import http from 'node:http';
import { loadGatewayConfig } from '../src/config/load.js';
import { gatewayFor } from './helpers/gateway.js';
import { request, serve, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';

const problemsOf = (origin: Record<string, unknown>, routes: unknown[] = [{ origin: 'files', volume: '/srv' }]): string[] => {
  const result = loadGatewayConfig({ file: null, env: {}, values: { origins: [{ name: 'files', url: 'http://127.0.0.1:8000', ...origin }], routes } });
  return result.ok ? [] : result.problems;
};
const prometheus = (volumes: unknown[], extra: Record<string, unknown> = {}) => ({ headroom: { prometheus: { url: 'http://prometheus:9090', volumes, ...extra } } });
const data = { name: 'data', total: 'size', available: 'avail' };

t.test('headroom.nodeExporter and headroom.prometheus: each problem names its key', async (t) => {
  t.same(problemsOf({ headroom: { nodeExporter: { url: 'http://host:9100/metrics' } } }), [], 'the contract’s node_exporter shape is valid');
  t.same(problemsOf(prometheus([data]), [{ origin: 'files', volume: 'data' }]), [], 'the contract’s Prometheus shape is valid');

  const load = loadGatewayConfig({ file: null, env: {}, values: { origins: [{ name: 'files', url: 'http://127.0.0.1:8000', headroom: { nodeExporter: { url: 'http://host:9100/metrics' } } }], routes: [{ origin: 'files', volume: '/srv' }] } });
  t.match(load.ok && load.config.origins[0]!.headroom.nodeExporter, { url: 'http://host:9100/metrics', interval: 2000, timeout: 1000, maxAnswerSize: 4 * 1024 * 1024, token: '' }, 'defaults');
  t.equal(load.ok && load.config.routes[0]!.volume, '/srv', 'a route’s volume is the mountpoint as written, not a path resolved here');

  const cases: Array<[string, string[], RegExp]> = [
    ['a url that is not http(s)', problemsOf({ headroom: { nodeExporter: { url: 'host:9100' } } }), /^origins\[0\]\.headroom\.nodeExporter\.url: /],
    ['no url', problemsOf({ headroom: { nodeExporter: { interval: '2s' } } }), /^origins\[0\]\.headroom\.nodeExporter\.url: missing; this key is required/],
    ['an unknown key', problemsOf({ headroom: { nodeExporter: { url: 'http://h:9100/metrics', mountpoint: '/srv' } } }), /^origins\[0\]\.headroom\.nodeExporter\.mountpoint: unknown key/],
    ['a bad interval', problemsOf({ headroom: { nodeExporter: { url: 'http://h:9100/metrics', interval: 'soon' } } }), /^origins\[0\]\.headroom\.nodeExporter\.interval: /],
    ['two sources', problemsOf({ headroom: { agent: { url: 'http://h:9300' }, nodeExporter: { url: 'http://h:9100/metrics' } } }), /^origins\[0\]\.headroom\.nodeExporter: origin "files" already has headroom\.agent; one source measures an origin's volumes, keep one of agent, nodeExporter/],
    ['a route without its volume', problemsOf({ headroom: { nodeExporter: { url: 'http://h:9100/metrics' } } }, [{ origin: 'files' }]), /^routes\[0\]\.volume: origin "files" is measured by node_exporter; name the volume \(a mountpoint node_exporter reports\)/],
    ['no volumes', problemsOf(prometheus([]), [{ origin: 'files', volume: 'data' }]), /^origins\[0\]\.headroom\.prometheus\.volumes: expected at least one volume/],
    ['volumes missing', problemsOf({ headroom: { prometheus: { url: 'http://p:9090' } } }, [{ origin: 'files', volume: 'data' }]), /^origins\[0\]\.headroom\.prometheus\.volumes: missing; this key is required/],
    ['a volume without total', problemsOf(prometheus([{ name: 'data', available: 'avail' }]), [{ origin: 'files', volume: 'data' }]), /^origins\[0\]\.headroom\.prometheus\.volumes\[0\]\.total: missing; this key is required/],
    ['an expression that is not a string', problemsOf(prometheus([{ ...data, available: 5 }]), [{ origin: 'files', volume: 'data' }]), /^origins\[0\]\.headroom\.prometheus\.volumes\[0\]\.available: /],
    ['a blank expression', problemsOf(prometheus([{ ...data, available: '   ' }]), [{ origin: 'files', volume: 'data' }]), /^origins\[0\]\.headroom\.prometheus\.volumes\[0\]\.available: expected a PromQL expression, got only blanks/],
    ['one inode figure without the other', problemsOf(prometheus([{ ...data, freeInodes: 'free' }]), [{ origin: 'files', volume: 'data' }]), /^origins\[0\]\.headroom\.prometheus\.volumes\[0\]: give both totalInodes and freeInodes, or neither/],
    ['an unknown volume key', problemsOf(prometheus([{ ...data, used: 'u' }]), [{ origin: 'files', volume: 'data' }]), /^origins\[0\]\.headroom\.prometheus\.volumes\[0\]\.used: unknown key/],
    ['a name given twice', problemsOf(prometheus([data, data]), [{ origin: 'files', volume: 'data' }]), /^origins\[0\]\.headroom\.prometheus\.volumes\[1\]\.name: "data" is already the name of volumes\[0\]/],
    ['a route naming no Prometheus volume', problemsOf(prometheus([data]), [{ origin: 'files', volume: 'logs' }]), /^routes\[0\]\.volume: "logs" is not one of origin "files"'s headroom\.prometheus\.volumes \(data\)/],
  ];
  for (const [what, problems, expected] of cases) t.ok(problems.some((p) => expected.test(p)), `${what}: ${problems.join(' | ')}`);
});

t.test('a reload that changes the node_exporter url scrapes the new one', async (t) => {
  const answer = (availMiB: number): http.RequestListener => (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`node_filesystem_size_bytes{device="d",fstype="ext4",mountpoint="/srv"} ${16 * 1024 * 1024}\nnode_filesystem_avail_bytes{device="d",fstype="ext4",mountpoint="/srv"} ${availMiB * 1024 * 1024}\n`);
  };
  const first = await serve(t, answer(10));
  const second = await serve(t, answer(3));
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const values = (url: string) => ({
    origins: [{ name: 'files', url: origin.url, headroom: { nodeExporter: { url: `${url}/metrics`, interval: '50ms' } } }],
    routes: [{ origin: 'files', volume: '/srv' }],
  });
  const gateway = await gatewayFor(t, origin.url, values(first));
  const available = async () => (JSON.parse((await request(`http://127.0.0.1:${gateway.adminAddress.port}/status`)).body.toString()) as { origins: Array<{ volumes: Array<{ availableBytes: number | null }> }> }).origins[0]!.volumes[0]?.availableBytes;
  await until(async () => (await available()) === 10 * 1024 * 1024, 'the first node_exporter’s figures');
  const next = loadGatewayConfig({ file: null, env: {}, values: { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, ...values(second) } });
  t.match(await gateway.reload(next), { ok: true });
  await until(async () => (await available()) === 3 * 1024 * 1024, 'the second node_exporter’s figures after the reload');
  t.pass('the reloaded url is scraped');
});
