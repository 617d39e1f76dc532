import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadAgentConfig } from '../src/config/agent-config.js';
import { loadGatewayConfig } from '../src/config/load.js';
import { gatewayFor } from './helpers/gateway.js';
import { request, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';
import { redisUnavailable, startRedis } from './helpers/redis.js';

// The files in deploy/, each checked with the tool its ecosystem uses where it can be had here
// (promtool, systemd-analyze), and against the running gateway (every metric they query exists).

const ROOT = path.resolve(import.meta.dirname, '..');
const DEPLOY = path.join(ROOT, 'deploy');
const read = (file: string) => readFileSync(path.join(DEPLOY, file), 'utf8');

/** A tool the checks need: present, or a skip with the reason — never under CI, where .ci/run installs it. */
function tool(binary: string, pkg: string): string | false {
  if (existsSync(binary)) return false;
  if (process.env.CI === 'true') throw new Error(`${binary} is missing: .ci/run installs ${pkg}`);
  return `${binary} is not installed (apt-get install -y ${pkg})`;
}

t.test('Prometheus alert rules: promtool checks them, and their unit tests pass', { skip: tool('/usr/bin/promtool', 'prometheus') }, async (t) => {
  const check = spawnSync('/usr/bin/promtool', ['check', 'rules', 'alerts.yaml'], { cwd: path.join(DEPLOY, 'prometheus'), encoding: 'utf8' });
  t.equal(check.status, 0, check.stdout + check.stderr);
  t.match(check.stdout, /SUCCESS: 6 rules found/);
  const tests = spawnSync('/usr/bin/promtool', ['test', 'rules', 'alerts.test.yaml'], { cwd: path.join(DEPLOY, 'prometheus'), encoding: 'utf8' });
  t.equal(tests.status, 0, tests.stdout + tests.stderr);
});

t.test('systemd units: systemd-analyze verify finds nothing to say', { skip: tool('/usr/bin/systemd-analyze', 'systemd') }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'headroom-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // verify also checks that ExecStart's program exists: a stand-in where the package would put it.
  const stub = path.join(dir, 'headroom');
  writeFileSync(stub, '#!/bin/sh\n');
  chmodSync(stub, 0o755);
  for (const unit of ['headroom.service', 'headroom-agent.service']) {
    const text = read(`systemd/${unit}`);
    t.match(text, /^ExecStart=\/usr\/local\/bin\/headroom (proxy|agent) --config /m);
    writeFileSync(path.join(dir, unit), text.replaceAll('/usr/local/bin/headroom', stub));
    const verify = spawnSync('/usr/bin/systemd-analyze', ['verify', path.join(dir, unit)], { encoding: 'utf8' });
    t.equal(verify.status, 0, `${unit}: ${verify.stderr}`);
    t.equal(verify.stderr.trim(), '', `${unit}: no warnings`);
  }
  t.match(read('systemd/headroom.service'), /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m, 'reload is SIGHUP');
  t.match(read('systemd/headroom.service'), /^TimeoutStopSec=45s$/m, 'longer than listen.drainTimeout (30 s)');
});

t.test('every metric the dashboard and the alert rules query exists on a running gateway’s /metrics', async (t) => {
  const skip = redisUnavailable();
  if (skip) return void t.comment(`skipped: ${skip}`);
  const redis = await startRedis(t);
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url, {
    origins: [{ name: 'files', url: origin.url, headroom: { local: { paths: [origin.root], interval: '100ms' }, health: { path: '/', interval: '100ms', expect: [200, 404] } } }],
    ledger: { backend: 'redis', url: redis.url },
  });
  const metrics = async () => (await request(`http://127.0.0.1:${gateway.adminAddress.port}/metrics`)).body.toString();
  await until(async () => /^headroom_origin_up\{/m.test(await metrics()), 'the first health check');
  t.equal((await request(`${gateway.url}/a.bin`, { method: 'PUT', headers: { 'content-length': '3' } }, 'abc')).status, 201);
  const text = await metrics();
  const names = new Set([...text.matchAll(/^([a-z_:][a-z0-9_:]*)(?:\{| )/gm)].map((m) => m[1]!));

  const dashboard = JSON.parse(read('grafana/headroom-dashboard.json')) as { panels: Array<{ targets: Array<{ expr: string }> }>; templating: { list: Array<{ definition?: string }> } };
  const queries = [
    ...dashboard.panels.flatMap((p) => p.targets.map((q) => q.expr)),
    ...dashboard.templating.list.map((v) => v.definition ?? ''),
    ...(YAML.parse(read('prometheus/alerts.yaml')) as { groups: Array<{ rules: Array<{ expr: string }> }> }).groups.flatMap((g) => g.rules.map((r) => r.expr)),
  ];
  const used = new Set(queries.flatMap((q) => [...q.matchAll(/\bheadroom_[a-z0-9_]+/g)].map((m) => m[0])));
  t.ok(used.size >= 10, `${used.size} metrics are queried`);
  for (const name of used) t.ok(names.has(name), `${name} is on /metrics`);
});

/** The YAML documents of a Kubernetes file. */
const manifests = (file: string) => YAML.parseAllDocuments(read(file)).map((d) => d.toJS() as Record<string, any>);
const ofKind = (docs: Array<Record<string, any>>, kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
const env = { HEADROOM_ADMIN_TOKEN: 'a-long-random-secret-for-the-test', HEADROOM_LEDGER_URL: 'redis://redis.storage.svc:6379/0', HEADROOM_AGENT_TOKEN: 'another-long-random-secret' };

function gatewayConfigOf(text: string) {
  const loaded = loadGatewayConfig({ file: null, values: YAML.parse(text) as Record<string, unknown>, env });
  if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
  return loaded.config;
}

t.test('Kubernetes sidecar: the embedded configuration is valid, and probes, ports and mounts agree with it', async (t) => {
  const docs = manifests('kubernetes/sidecar.yaml');
  const config = gatewayConfigOf(ofKind(docs, 'ConfigMap', 'webdav-headroom').data['headroom.yaml']);
  const pod = ofKind(docs, 'Deployment', 'webdav').spec.template.spec;
  const headroom = pod.containers.find((c: { name: string }) => c.name === 'headroom');
  const port = (name: string) => headroom.ports.find((p: { name: string }) => p.name === name).containerPort;
  t.equal(port('http'), config.listen.port);
  t.equal(port('admin'), config.admin.port);
  t.equal(config.admin.host, '0.0.0.0', 'the kubelet reaches the admin listener');
  t.same([headroom.livenessProbe.httpGet, headroom.readinessProbe.httpGet], [{ path: '/healthz', port: 'admin' }, { path: '/readyz', port: 'admin' }]);
  const dataMount = headroom.volumeMounts.find((m: { name: string }) => m.name === 'data');
  t.same(config.origins[0]!.headroom.local!.paths, [dataMount.mountPath], 'Headroom measures the volume the upload server writes to');
  t.equal(dataMount.readOnly, true, 'and only reads it');
  const upload = pod.containers.find((c: { name: string }) => c.name === 'upload-server');
  t.equal(upload.volumeMounts.find((m: { name: string }) => m.name === 'data').mountPath, dataMount.mountPath);
  t.ok(pod.terminationGracePeriodSeconds * 1000 > config.listen.drainTimeout, 'the Pod waits out the drain');
  t.equal(headroom.securityContext.runAsNonRoot, true);
});

t.test('Kubernetes gateway: replicas share a Redis ledger; the agents’ configuration is valid; probes and ports agree', async (t) => {
  const docs = manifests('kubernetes/gateway.yaml');
  const config = gatewayConfigOf(ofKind(docs, 'Secret', 'headroom-gateway').stringData['headroom.yaml']);
  t.equal(config.ledger.backend, 'redis');
  t.equal(config.ledger.url, env.HEADROOM_LEDGER_URL, 'the URL comes from the Secret, through the environment');
  const deployment = ofKind(docs, 'Deployment', 'headroom-gateway');
  t.ok(deployment.spec.replicas > 1);
  const gw = deployment.spec.template.spec.containers[0];
  t.same(gw.env.map((e: { name: string }) => e.name).sort(), ['HEADROOM_ADMIN_TOKEN', 'HEADROOM_LEDGER_URL']);
  t.equal(gw.ports.find((p: { name: string }) => p.name === 'admin').containerPort, config.admin.port);
  t.equal(gw.readinessProbe.httpGet.port, 'admin');
  const agentText = ofKind(docs, 'ConfigMap', 'headroom-agent').data['agent.yaml'];
  const agent = loadAgentConfig({ file: null, values: YAML.parse(agentText) as Record<string, unknown>, env });
  if (!agent.ok) throw new Error(agent.problems.join('\n'));
  const daemon = ofKind(docs, 'DaemonSet', 'headroom-agent').spec.template.spec;
  const agentPort = daemon.containers[0].ports[0];
  t.equal(agentPort.containerPort, agent.config.listen.port);
  t.equal(agentPort.hostPort, agent.config.listen.port, 'the gateways reach it on the node’s address');
  t.match(config.origins[0]!.headroom.agent!.url, new RegExp(`:${agent.config.listen.port}$`));
  t.same(agent.config.paths, [config.routes[0]!.volume], 'the agent reports the volume the route names');
});

t.test('Dockerfile: two stages, an unprivileged user, and what it copies exists', async (t) => {
  const text = read('Dockerfile');
  t.equal([...text.matchAll(/^FROM /gm)].length, 2, 'a build stage and a runtime stage');
  t.match(text, /^USER node$/m);
  t.match(text, /^EXPOSE 8080 9090 9100$/m);
  for (const [, from] of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const source of from!.split(' ')) t.ok(existsSync(path.join(ROOT, source)), `${source} exists`);
  }
  t.match(text, /ENTRYPOINT \["node", "\/opt\/headroom\/dist\/src\/cli\.js"\]/);
  t.ok(existsSync(path.join(ROOT, 'dist/src/cli.js')), 'the build puts the CLI where the entrypoint runs it');
});
