import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gatewayFor } from './helpers/gateway.js';
import { freePort, request, serve, until } from './helpers/http.js';
import { otlpReceiver } from './helpers/otlp-receiver.js';
import { startTestOrigin } from './helpers/origin.js';

// OpenTelemetry's HTTP semantic conventions, as a collector and Prometheus see them.

const VERSION = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string }).version;

t.test('spans and metrics in the ecosystem’s names: request duration by method, status and route; a 4xx is not an error, a 5xx has error.type; url.query; the resource says the version', async (t) => {
  const receiver = await otlpReceiver(t);
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const down = `http://127.0.0.1:${await freePort()}`; // nothing listens: the exchange fails with 502
  const gateway = await gatewayFor(t, origin.url, {
    origins: [{ name: 'files', url: origin.url }, { name: 'gone', url: down }],
    routes: [{ match: { pathPrefix: '/gone/' }, origin: 'gone' }, { match: { pathPrefix: '/' }, origin: 'files' }],
    policy: { maxBodySize: 10 },
    telemetry: { traces: { exporter: 'otlp', endpoint: receiver.url } },
  });
  t.equal((await request(`${gateway.url}/a.bin`, { method: 'PUT', headers: { 'content-length': '3' } }, 'abc')).status, 201);
  t.equal((await request(`${gateway.url}/big.bin`, { method: 'PUT', headers: { 'content-length': '100' } }, Buffer.alloc(100))).status, 413);
  t.equal((await request(`${gateway.url}/gone/x`)).status, 502);
  t.equal((await request(`${gateway.url}/a.bin?version=2&x=%20y`)).status, 200);
  const metrics = (await request(`http://127.0.0.1:${gateway.adminAddress.port}/metrics`)).body.toString();
  await gateway.shutdown();

  const count = (labels: string) => Number(new RegExp(`^http_server_request_duration_count\\{${labels}\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
  t.equal(count('http_request_method="PUT",http_response_status_code="201",http_route="/"'), 1, 'http.server.request.duration by method, status and route');
  t.equal(count('http_request_method="PUT",http_response_status_code="413",http_route="/"'), 1);
  t.equal(count('http_request_method="GET",http_response_status_code="502",http_route="/gone/",error_type="502"'), 1);
  t.match(metrics, /^http_client_request_duration_count\{http_request_method="PUT",http_response_status_code="201",server_address="127\.0\.0\.1",server_port="\d+",headroom_origin="files"\} 1$/m, 'http.client.request.duration to the origin');
  t.match(metrics, /^headroom_upstream_failures_total\{origin="gone",reason="refused"\} 1$/m, 'upstream failures by reason');
  for (const name of ['nodejs_eventloop_utilization', 'v8js_memory_heap_used', 'process_cpu_time_total', 'process_memory_usage']) {
    t.match(metrics, new RegExp(`^${name}(\\{|\\s)`, 'm'), `runtime and process metrics: ${name}`);
  }
  t.match(metrics, new RegExp(`^headroom_build_info\\{version="${VERSION.replaceAll('.', '\\.')}",node="v[\\d.]+"\\} 1$`, 'm'), 'build info');

  const servers = receiver.spans.filter((s) => s.kind === 2);
  const byPath = (p: string) => servers.find((s) => s.attributes['url.path'] === p)!;
  t.notOk(byPath('/big.bin').status.code, 'a 413 SERVER span has no error status (a 4xx is the client’s)');
  t.equal(byPath('/big.bin').attributes['error.type'], undefined);
  t.equal(byPath('/gone/x').status.code, 2, 'a 502 SERVER span is an error');
  t.equal(byPath('/gone/x').attributes['error.type'], 'refused', 'with error.type: why the exchange with the origin failed');
  const get = servers.find((s) => s.attributes['url.path'] === '/a.bin' && s.attributes['http.request.method'] === 'GET')!;
  t.equal(get.attributes['url.query'], 'version=2&x=%20y', 'url.query, without the ?');
  t.equal(servers[0]!.resource['service.version'], VERSION, 'service.version on the resource');
  t.match(servers[0]!.resource['service.instance.id'], /^[0-9a-f-]{36}$/, 'service.instance.id on the resource');
  t.type(servers[0]!.resource['host.name'], 'string', 'the host, from the resource detectors');
  t.equal(servers[0]!.resource['process.command_args'], undefined, 'never the command line: flags may carry secrets');
});

t.test('server.address from an IPv6 Host', async (t) => {
  const receiver = await otlpReceiver(t);
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url, { telemetry: { traces: { exporter: 'otlp', endpoint: receiver.url } } });
  await request(`${gateway.url}/x`, { headers: { host: '[::1]:8443' } });
  await gateway.shutdown();
  const server = receiver.spans.find((s) => s.kind === 2)!;
  t.equal(server.attributes['server.address'], '::1');
  t.equal(server.attributes['server.port'], 8443);
});

t.test('health polls: an HTTP client span for the first poll, each failure and the recovery — not one trace per poll forever', async (t) => {
  const receiver = await otlpReceiver(t);
  let failing = false;
  let polls = 0;
  const url = await serve(t, (req, res) => {
    if (req.url === '/healthz') polls++;
    res.writeHead(req.url === '/healthz' && failing ? 503 : 200, { 'content-length': '0' });
    res.end();
  });
  const gateway = await gatewayFor(t, url, {
    origins: [{ name: 'files', url, headroom: { health: { path: '/healthz', interval: '20ms', timeout: '200ms', rise: 1, fall: 1 } } }],
    telemetry: { traces: { exporter: 'otlp', endpoint: receiver.url } },
  });
  await until(() => polls >= 6, 'good polls');
  failing = true;
  const from = polls;
  await until(() => polls >= from + 3, 'failed polls');
  failing = false;
  const back = polls;
  await until(() => polls >= back + 6, 'good polls again');
  const metrics = (await request(`http://127.0.0.1:${gateway.adminAddress.port}/metrics`)).body.toString();
  await gateway.shutdown();
  const failures = Number(/^headroom_poll_failures_total\{origin="files",source="health"\} (\d+)$/m.exec(metrics)?.[1]);
  const spans = receiver.spans.filter((s) => s.name === 'headroom.poll health');
  const good = spans.filter((s) => !s.status.code);
  const failed = spans.filter((s) => s.status.code === 2);
  t.equal(good.length, 2, 'good polls: the first and the first after the failures');
  t.ok(failed.length >= 1, `${failed.length} failed polls traced`);
  t.equal(failures, failed.length, 'headroom_poll_failures_total counts every failed check');
  t.ok(spans.length < polls / 2, `${spans.length} spans for ${polls} polls`);
  t.match(good[0]!.attributes, { 'http.request.method': 'GET', 'http.response.status_code': 200, 'url.full': `${url}/healthz`, 'headroom.origin': 'files' });
  t.match(failed[0]!.attributes, { 'http.response.status_code': 503, 'error.type': 'HTTP 503' });
});
