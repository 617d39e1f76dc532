import t, { type Test } from 'tap';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { gatewayFor, type RunningGateway } from './helpers/gateway.js';
import { request, serve, until } from './helpers/http.js';
import { otlpReceiver } from './helpers/otlp-receiver.js';
import { spawnGatewayFor } from './helpers/process.js';
import { startTestOrigin, type TestOrigin } from './helpers/origin.js';
import { prometheusInstalled, startPrometheus } from './helpers/prometheus.js';
import { startProviders } from '../src/telemetry/providers.js';
import type { TelemetryConfig } from '../src/config/types.js';

const MiB = 1024 * 1024;

/** A 16 MiB allocation with 10 MiB stored, behind a gateway exporting spans to `endpoint`. */
async function traced(t: Test, endpoint: string, exporter = 'otlp'): Promise<{ origin: TestOrigin; gateway: RunningGateway; traceparents: string[] }> {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  writeFileSync(path.join(origin.root, 'stored.bin'), Buffer.alloc(10 * MiB));
  // A hop in front of the origin that records the traceparent it is sent.
  const traceparents: string[] = [];
  const hop = await serve(t, (req, res) => {
    if (typeof req.headers.traceparent === 'string') traceparents.push(req.headers.traceparent);
    const upstream = http.request(`${origin.url}${req.url}`, { method: req.method, headers: req.headers }, (o) => {
      res.writeHead(o.statusCode!, o.headers);
      o.pipe(res);
    });
    // The gateway's health checks may be mid-request when the test's servers close.
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const gateway = await gatewayFor(t, hop, {
    origins: [{ name: 'files', url: hop, headroom: { local: { paths: [origin.root], capacity: '16MiB', interval: '100ms' }, health: { path: '/', interval: '100ms' } } }],
    policy: { reserve: '1MiB' },
    telemetry: { serviceName: 'headroom-test', traces: { exporter, endpoint } },
  });
  await until(() => (gateway.registry.get('files', origin.root)?.snapshot?.availableBytes ?? 0) === 6 * MiB, 'the first snapshot');
  return { origin, gateway, traceparents };
}

const put = (gateway: RunningGateway, name: string, bytes: number, headers: Record<string, string> = {}) =>
  request(`${gateway.url}/${name}`, { method: 'PUT', headers: { 'content-length': String(bytes), ...headers } }, Buffer.alloc(bytes));

t.test('a refused PUT and an admitted one, as an OTLP receiver gets them', async (t) => {
  const receiver = await otlpReceiver(t);
  const { gateway, traceparents, origin } = await traced(t, receiver.url);
  t.equal((await put(gateway, 'refused.bin', 8 * MiB)).status, 507);
  t.equal((await put(gateway, 'admitted.bin', 1024)).status, 201);
  await gateway.shutdown(); // flushes the batch
  t.ok(receiver.spans.length > 0, 'spans arrived');
  t.ok(receiver.contentTypes.every((type) => type === 'application/x-protobuf'), 'as OTLP/protobuf, the default');

  const servers = receiver.spans.filter((s) => s.kind === 2);
  const refused = servers.find((s) => s.attributes['headroom.decision'] === 'reject')!;
  t.match(refused, {
    serviceName: 'headroom-test',
    status: { code: 2 },
    attributes: {
      'http.request.method': 'PUT',
      'http.response.status_code': 507,
      'headroom.decision': 'reject',
      'headroom.reason': 'insufficient_storage',
      'headroom.origin': 'files',
      'headroom.volume': origin.root,
      'headroom.requested_bytes': 8 * MiB,
      'headroom.usable_bytes': 5 * MiB,
      'headroom.reserved_bytes': 0,
      'headroom.snapshot_age_ms': Number,
      'headroom.generation': 1,
    },
  });
  t.notOk(receiver.spans.some((s) => s.kind === 3 && s.traceId === refused.traceId), 'no CLIENT span for the refusal');

  const admitted = servers.find((s) => s.attributes['headroom.decision'] === 'admit')!;
  t.match(admitted.attributes, { 'headroom.reason': 'fits', 'http.response.status_code': 201, 'headroom.requested_bytes': 1024 });
  const client = receiver.spans.find((s) => s.kind === 3 && s.traceId === admitted.traceId && s.name === 'PUT');
  t.ok(client, 'a CLIENT span in the admitted request’s trace');
  t.equal(client!.parentSpanId, admitted.spanId, 'the CLIENT span is the SERVER span’s child');
  t.equal(traceparents.length, 1, 'the origin was sent one request');
  const [, traceId, spanId] = traceparents[0]!.split('-');
  t.equal(traceId, admitted.traceId, 'the origin received the trace id');
  t.equal(spanId, client!.spanId, 'and the CLIENT span as parent');
  const poll = receiver.spans.find((s) => s.name === 'headroom.poll health');
  t.match(poll?.attributes, { 'headroom.origin': 'files' }, 'health polls are spans too');
});

t.test('an incoming traceparent is continued', async (t) => {
  const receiver = await otlpReceiver(t);
  const { gateway } = await traced(t, receiver.url);
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parent = '00f067aa0ba902b7';
  await request(`${gateway.url}/anything`, { headers: { traceparent: `00-${traceId}-${parent}-01` } });
  await gateway.shutdown();
  const server = receiver.spans.find((s) => s.kind === 2)!;
  t.equal(server.traceId, traceId, 'the same trace id');
  t.equal(server.parentSpanId, parent, 'under the caller’s span');
});

t.test('a request its caller did not sample is not recorded; the origin is still told the trace, unsampled', async (t) => {
  const receiver = await otlpReceiver(t);
  const { gateway, traceparents } = await traced(t, receiver.url);
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parent = '00f067aa0ba902b7';
  t.equal((await request(`${gateway.url}/unsampled`, { headers: { traceparent: `00-${traceId}-${parent}-00` } })).status, 404, "the origin answered");
  t.equal((await request(`${gateway.url}/sampled`)).status, 404, "the origin answered");
  await gateway.shutdown();
  const told = traceparents.filter((p) => p.includes(traceId));
  t.equal(told.length, 1, 'the origin was sent the caller’s trace');
  t.match(told[0], new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`), 'with the sampled flag off');
  t.not(told[0]!.split('-')[2], parent, 'under a span id of this hop');
  t.same(receiver.spans.filter((s) => s.traceId === traceId), [], 'no span of the unsampled trace was exported');
  t.ok(receiver.spans.some((s) => s.kind === 2 && s.attributes['url.path'] === '/sampled'), 'the sampled request was, with its attributes');
  t.ok(receiver.spans.some((s) => s.kind === 3), 'with its CLIENT span');
});

t.test('exporter none sends nothing', async (t) => {
  const receiver = await otlpReceiver(t);
  const { gateway } = await traced(t, receiver.url, 'none');
  await put(gateway, 'admitted.bin', 1024);
  await put(gateway, 'refused.bin', 8 * MiB);
  await gateway.shutdown();
  t.equal(receiver.posts(), 0, 'the receiver was never called');
  t.notOk(gateway.logLines.some((l) => 'traceId' in l), 'and access lines carry no trace id');
});

t.test('SIGTERM right after a request still delivers its spans; the access line carries the trace id', async (t) => {
  const receiver = await otlpReceiver(t);
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const gateway = await spawnGatewayFor(t, origin.url, { telemetry: { traces: { exporter: 'otlp', endpoint: receiver.url } } });
  t.equal((await request(`${gateway.url}/x`, { method: 'OPTIONS' })).status, 200);
  gateway.child.kill('SIGTERM');
  t.equal(await gateway.exited, 0);
  const server = receiver.spans.find((s) => s.kind === 2);
  t.ok(server, 'the SERVER span arrived before exit (the batch delay is 5 s)');
  const access = gateway.lines.find((l) => l.msg === 'access')!;
  t.equal(access.traceId, server!.traceId, 'the access line names the trace');
  t.equal(access.spanId, server!.spanId);
});

t.test('a real Prometheus scrapes /metrics and counts the refusals', { skip: !prometheusInstalled() && process.env.CI !== 'true' ? 'prometheus is not installed (apt-get install -y prometheus; .ci/run does)' : false }, async (t) => {
  const { gateway } = await traced(t, 'http://127.0.0.1:1', 'none');
  const query = await startPrometheus(t, `127.0.0.1:${gateway.adminAddress.port}`);
  for (let i = 0; i < 3; i++) t.equal((await put(gateway, `refused-${i}.bin`, 8 * MiB)).status, 507);
  t.equal((await put(gateway, 'admitted.bin', 1024)).status, 201);
  let result: Awaited<ReturnType<typeof query>> = [];
  await until(async () => {
    result = await query('headroom_decisions_total{reason="insufficient_storage"}');
    return result[0]?.value[1] === '3';
  }, 'Prometheus to show 3 refusals', 20_000);
  t.match(result[0]!.metric, { decision: 'reject', reason: 'insufficient_storage', origin: 'files', job: 'headroom' });
  const usable = await query('headroom_volume_usable_bytes');
  t.ok(Number(usable[0]?.value[1]) > 0, 'the volume’s usable bytes are scraped too');
});

t.test('a write to a volume nobody measures is traced as admit_unknown', async (t) => {
  const receiver = await otlpReceiver(t);
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url, { telemetry: { traces: { exporter: 'otlp', endpoint: receiver.url } } });
  t.equal((await put(gateway, 'unknown.bin', 1024)).status, 201, 'onUnknown: admit lets it through');
  await gateway.shutdown();
  const server = receiver.spans.find((s) => s.kind === 2)!;
  t.match(server.attributes, { 'headroom.decision': 'admit_unknown', 'headroom.reason': 'stale', 'headroom.requested_bytes': 1024 });
  t.notOk(server.status.code === 2, 'an admission is not an error');
});

t.test('OTLP/JSON when the config or OTEL_EXPORTER_OTLP_PROTOCOL asks for it; an unsupported protocol is named', async (t) => {
  const receiver = await otlpReceiver(t);
  const config = (protocol: TelemetryConfig['traces']['protocol']): TelemetryConfig => ({
    serviceName: 'headroom-test',
    traces: { exporter: 'otlp', endpoint: receiver.url, protocol },
    metrics: { prometheus: false },
  });
  const sendOneSpan = async (telemetry: Awaited<ReturnType<typeof startProviders>>, name: string) => {
    telemetry.tracer!.startSpan(name).end();
    t.equal(await telemetry.shutdown(), null, `${name}: flushed`);
  };
  await sendOneSpan(await startProviders(config('http/json'), {}), 'by-config');
  await sendOneSpan(await startProviders(config('http/protobuf'), { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }), 'by-env');
  t.same(receiver.contentTypes, ['application/json', 'application/json']);
  t.same(receiver.spans.map((s) => s.name), ['by-config', 'by-env'], 'both decoded as JSON');
  await t.rejects(startProviders(config('http/protobuf'), { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /"grpc" is not supported.*http\/protobuf or http\/json/);
});

t.test('OTEL_TRACES_EXPORTER chooses where spans go while telemetry.traces.exporter is left at none', async (t) => {
  const receiver = await otlpReceiver(t);
  const config: TelemetryConfig = { serviceName: 'headroom-test', traces: { exporter: 'none', endpoint: receiver.url, protocol: 'http/protobuf' }, metrics: { prometheus: false } };
  const byEnv = await startProviders(config, { OTEL_TRACES_EXPORTER: 'otlp' });
  byEnv.tracer!.startSpan('by-env').end();
  t.equal(await byEnv.shutdown(), null);
  t.same(receiver.spans.map((s) => s.name), ['by-env'], 'otlp from the variable');
  t.equal((await startProviders(config, {})).tracer, null, 'without it: no tracing');
  await t.rejects(startProviders(config, { OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER: "zipkin" is not supported; use otlp, console or none/);
});

t.test('OTEL_TRACES_SAMPLER samples as the OpenTelemetry variables say', async (t) => {
  const receiver = await otlpReceiver(t);
  // The SDK reads the sampler variables from the process's environment itself.
  const saved = { OTEL_TRACES_SAMPLER: process.env.OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: process.env.OTEL_TRACES_SAMPLER_ARG };
  t.teardown(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  Object.assign(process.env, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' });
  const telemetry = await startProviders(
    { serviceName: 'headroom-test', traces: { exporter: 'otlp', endpoint: receiver.url, protocol: 'http/protobuf' }, metrics: { prometheus: false } },
    process.env,
  );
  for (let i = 0; i < 2000; i++) telemetry.tracer!.startSpan('sampled?').end();
  t.equal(await telemetry.shutdown(), null);
  // 10% of 2,000 trace ids: 200 expected, and 120–280 is more than 5 standard deviations either side.
  t.ok(receiver.spans.length > 120 && receiver.spans.length < 280, `${receiver.spans.length} of 2,000 spans were sampled`);
});
