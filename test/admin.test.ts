import t from 'tap';
import { gatewayFor } from './helpers/gateway.js';
import { request, serve, until } from './helpers/http.js';
import { startTestOrigin } from './helpers/origin.js';
import { statusPage } from '../src/admin/status-page.js';
import type { GatewayStatus } from '../src/admin/status.js';

const MiB = 1024 * 1024;

t.test('/readyz is 503 before the first fresh snapshot and 200 after; /status has the documented shape; the token guards it', async (t) => {
  let ready = false;
  const agentUrl = await serve(t, (_req, res) => {
    if (!ready) {
      res.writeHead(500);
      return void res.end();
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ host: 'h', time: new Date().toISOString(), volumes: [{ mount: '/srv/dav', filesystem: '/dev/sdb1', totalBytes: 16 * MiB, freeBytes: 15 * MiB, availableBytes: 15 * MiB, totalInodes: 100_000, freeInodes: 90_000 }] }));
  });
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  const gateway = await gatewayFor(t, origin.url, {
    admin: { token: 'admin-secret' },
    origins: [{ name: 'files', url: origin.url, headroom: { agent: { url: agentUrl, interval: '100ms', timeout: '300ms' } } }],
    routes: [{ origin: 'files', volume: '/srv/dav' }],
    policy: { reserve: '1MiB' },
  });
  const admin = `http://127.0.0.1:${gateway.adminAddress.port}`;
  const auth = { headers: { authorization: 'Bearer admin-secret' } };

  const notReady = await request(`${admin}/readyz`);
  t.equal(notReady.status, 503, '/readyz: 503 before any snapshot');
  t.match(JSON.parse(notReady.body.toString()), { waitingFor: ['files: no fresh snapshot'] });
  t.equal((await request(`${admin}/healthz`)).status, 200, '/healthz: alive, no token needed');

  t.equal((await request(`${admin}/status`)).status, 401, '/status without the token: 401');
  t.equal((await request(`${admin}/status`, { headers: { authorization: 'Bearer nope' } })).status, 401, 'with a wrong token: 401');
  t.equal((await request(`${admin}/`)).status, 401, 'the status page without the token: 401');
  t.equal((await request(`${admin}/status`, { headers: { authorization: 'bearer admin-secret' } })).status, 200, 'the Bearer scheme in any case');
  const failing = JSON.parse((await request(`${admin}/status`, auth)).body.toString());
  t.match(failing.origins[0], { name: 'files', lastAgentError: 'HTTP 500' }, 'the agent’s last error shows');

  ready = true;
  await until(async () => (await request(`${admin}/readyz`)).status === 200, '/readyz to turn 200');
  const status = JSON.parse((await request(`${admin}/status`, auth)).body.toString());
  t.match(status, {
    generation: 1,
    reservedBytes: 0,
    origins: [{
      name: 'files',
      healthy: null,
      volumes: [{ volume: '/srv/dav', totalBytes: 16 * MiB, availableBytes: 15 * MiB, usableBytes: 14 * MiB, reservedBytes: 0, snapshotAgeMs: Number, flood: false, source: 'agent' }],
    }],
  });
});

t.test('the status page draws one bar per volume with used, reserved, the reserve and the flood marks', async (t) => {
  const status: GatewayStatus = {
    generation: 1,
    reservedBytes: 2 * MiB,
    ledger: { backend: 'memory', state: 'process', lastError: null, unavailable: 0 },
    floodStage: 0.97,
    floodRelease: 0.93,
    origins: [{
      name: 'files<script>',
      url: 'http://10.0.0.5:8000',
      healthy: false,
      lastHealthError: 'ECONNREFUSED',
      remoteSource: null,
      lastAgentError: null,
      lastAgentErrorAt: null,
      volumes: [{
        volume: '/srv/dav', totalBytes: 16 * MiB, availableBytes: 4 * MiB, usableBytes: 1 * MiB, reservedBytes: 2 * MiB, writtenSinceSnapshotBytes: 0,
        reserveBytes: 1 * MiB, totalInodes: 1000, freeInodes: 900, snapshotAgeMs: 400, fresh: true, flood: false, markedFull: false, source: 'agent', lastError: null,
        growthBytesPerSecond: null, secondsToFloodStage: null, growthNote: '3 snapshots needed for a growth rate, 0 so far', history: [],
      }],
    }],
  };
  const html = statusPage(status);
  t.match(html, /<meta http-equiv="refresh" content="2">/, 'it refreshes itself');
  t.match(html, /class="used" style="width:75\.00%"/, 'used: 12 of 16 MiB');
  t.match(html, /class="reserved" style="width:12\.50%"/, 'reserved: 2 of 16 MiB');
  t.match(html, /class="reserve" style="width:6\.25%"/, 'the reserve: 1 of 16 MiB');
  t.match(html, /class="mark stage" style="left:97\.00%"/, 'the flood stage mark');
  t.match(html, /class="mark release" style="left:93\.00%"/, 'the flood release mark');
  t.match(html, /<span class="bad">down<\/span>/, 'the origin’s health');
  t.notMatch(html, /<script>/, 'names are escaped');
});
