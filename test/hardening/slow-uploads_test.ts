// Stalled uploads (issue 17, point 2) against `governor serve` as the image runs it (the build, in a child process with
// a GC hook): many connections each send most of a 3 MiB body and stall. Memory stays under the pod limit, a normal
// review still answers meanwhile, the stalled ones are answered 503 (shed) or cut off by the request timeout, and the
// memory goes back after they close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { connect } from 'node:net';
import { createServer } from 'node:http';
import { normalReview, rssMiB, stalledUpload, startServe } from '../../bench/slow-uploads.js';
import { mutateHandler, reviewFunction, validateHandler, type AdmissionEnvironment } from '../../src/admission/handlers.js';
import { createWebhookListener } from '../../src/admission/http.js';
import { FakeEventRecorder } from '../../src/kube/events.js';
import { silentLogger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { RequestBudget } from '../../src/server/budget.js';
import { admissionReview, realisticDeployment, sampleEngine, sampleNamespaces } from '../integration/webhook_fixtures.js';
import { assertCleanStatus } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
/** manifests/base/deployment.yaml: resources.limits.memory. */
const POD_LIMIT_MIB = 256;
/** manifests/base/deployment.yaml: the container's NODE_OPTIONS (heap limits), so the child runs as the pod does. */
function deploymentNodeOptions(): string {
  const text = readFileSync(join(ROOT, 'manifests', 'base', 'deployment.yaml'), 'utf8');
  const m = /- name: NODE_OPTIONS\n\s+value: (.+)\n/.exec(text);
  if (!m) throw new Error('manifests/base/deployment.yaml sets no NODE_OPTIONS');
  return m[1]!.trim();
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The production JavaScript (tsconfig.build.json) in a scratch directory: what the image runs, without tsx's own memory. */
function buildDist(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kg-dist-'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist'), '--sourceMap', 'false'], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

test('300 stalled 3 MiB uploads: RSS stays under the pod limit, a normal review answers, memory returns after they close', { timeout: 240_000 }, async () => {
  const build = buildDist();
  const server = await startServe([], { gcHook: true, dist: join(build, 'dist', 'cli.js'), env: { NODE_OPTIONS: deploymentNodeOptions() } });
  const pid = server.child.pid!;
  const sockets: TLSSocket[] = [];
  try {
    await sleep(500);
    const baseline = await server.gc();
    const outcomes: Record<string, number> = {};
    let holding = true;
    let settled = 0; // sent all their bytes, or already ended
    const connections = 300;
    let peak = 0;
    const sample = () => (peak = Math.max(peak, rssMiB(pid)));
    const sampler = setInterval(sample, 100);
    for (let i = 0; i < connections; i++) {
      let counted = false;
      const settle = () => !counted && (counted = true) && settled++;
      sockets.push(
        stalledUpload(server.port, server.ca, 3 * 1024 * 1024 - 1024, (how) => {
          settle();
          if (holding) outcomes[how] = (outcomes[how] ?? 0) + 1;
        }, settle),
      );
      if (i % 20 === 19) await sleep(10);
    }
    // The flood of bytes is over (each upload sent its bytes or was cut off); what remains is stalled. Far more was
    // sent than the budget (16 MiB) holds: the oldest were shed to make room.
    const floodEnd = Date.now() + 60_000;
    while (settled < connections && Date.now() < floodEnd) await sleep(100);
    assert.equal(settled, connections, 'every upload sent its bytes or was cut off');
    const normal = await normalReview(server.port, server.ca);
    assert.equal(normal.status, 200, `a normal review during the stalled uploads: ${JSON.stringify(normal)}`);
    assert.ok(normal.ms < 2000, `the normal review took ${normal.ms} ms`);
    // Every stalled upload ends within the request timeout (10 s) plus the check interval: 503 or 408 or closed.
    const deadline = Date.now() + 15_000;
    while (Object.values(outcomes).reduce((a, b) => a + b, 0) < connections && Date.now() < deadline) await sleep(250);
    sample();
    clearInterval(sampler);
    const ended = Object.values(outcomes).reduce((a, b) => a + b, 0);
    assert.equal(ended, connections, `uploads still open after the request timeout: ${JSON.stringify(outcomes)}`);
    assert.ok((outcomes['503'] ?? 0) > 0, `some uploads shed with 503: ${JSON.stringify(outcomes)}`);
    assert.ok(peak < POD_LIMIT_MIB, `peak RSS ${peak} MiB (baseline ${baseline} MiB) over the pod limit of ${POD_LIMIT_MIB} MiB`);
    holding = false;
    for (const s of sockets) s.destroy();
    await sleep(1500);
    const after = await server.gc();
    process.stdout.write(`# slow uploads: baseline ${baseline} MiB, peak ${peak} MiB, after close ${after} MiB, outcomes ${JSON.stringify(outcomes)}\n`);
    // What stays is what the runtime keeps committed after the peak (on Node 24 it keeps the peak's pages): never more
    // than the peak, inside the pod limit, whatever was sent.
    assert.ok(after <= peak + 8 && after < POD_LIMIT_MIB, `RSS after the uploads closed: ${after} MiB against ${baseline} MiB before, peak ${peak} MiB`);
    // And the server still serves.
    assert.equal((await normalReview(server.port, server.ca)).status, 200);
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
    rmSync(build, { recursive: true, force: true });
  }
});

test('the budget in the webhook listener: a stalled body is shed with a 503 Status when a review needs room; a body abandoned midway gives its bytes back', { timeout: 30_000 }, async () => {
  const engine = sampleEngine();
  const metrics = createMetrics({ defaultMetrics: false });
  const env: AdmissionEnvironment = { engine: () => engine, namespaces: sampleNamespaces(), events: new FakeEventRecorder(), log: silentLogger, metrics };
  const budget = new RequestBudget({ maxBytes: 64 * 1024, maxRequests: 8, onShed: (reason) => metrics.requestsShed.inc({ server: 'webhook', reason }) });
  const listener = createWebhookListener({ mutate: reviewFunction('mutate', mutateHandler(env), env), validate: reviewFunction('validate', validateHandler(env), env), log: silentLogger, metrics, budget });
  const server = createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const raw = (head: string, body: string) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    s.on('data', (c) => (text += c));
    s.on('error', () => undefined);
    s.write(head + body);
    return { s, text: () => text, closed: new Promise<void>((r) => s.on('close', () => r())) };
  };
  const waitFor = async (what: string, cond: () => boolean) => {
    const end = Date.now() + 5000;
    while (!cond() && Date.now() < end) await sleep(20);
    assert.ok(cond(), what);
  };
  try {
    // Stalled: declares 1 MiB, sends 63 KiB, waits.
    const stalled = raw('POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n', ' '.repeat(63 * 1024));
    await waitFor('the stalled body is buffered', () => budget.bytes === 63 * 1024);
    // A normal review needs more room than is left: the stalled one (the oldest) is shed, the review answers.
    const review = JSON.stringify(admissionReview({ uid: 'fits', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: realisticDeployment() }));
    const res = await fetch(`http://127.0.0.1:${port}/validate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: review });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { response: { uid: string } }).response.uid, 'fits');
    await stalled.closed;
    const [head, body] = stalled.text().split('\r\n\r\n');
    assert.match(head!, /^HTTP\/1\.1 503 /);
    assert.match(head!, /connection: close/i);
    assertCleanStatus({ status: 503, text: body! }, 'shed upload');
    assert.doesNotMatch(body!, /\d{4,}/, 'no budget figures in the body');
    assert.match(await metrics.registry.metrics(), /governor_http_requests_shed_total\{server="webhook",reason="bytes"\} 1/);
    // Abandoned midway: the connection closes, the bytes come back at once.
    const abandoned = raw('POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n', 'x'.repeat(30_000));
    await waitFor('the abandoned body is buffered', () => budget.bytes === 30_000);
    abandoned.s.destroy();
    await waitFor('its bytes are given back', () => budget.bytes === 0 && budget.requests === 0);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('--request-timeout and --request-headers-timeout cut off slow requests on the webhook and metrics ports within a second of the limit', { timeout: 30_000 }, async () => {
  const { mkdtempSync: mk } = await import('node:fs');
  const { connect: tlsConnect } = await import('node:tls');
  const { startGovernor } = await import('../../src/main.js');
  const { webhookComponent } = await import('../../src/components.js');
  const { governorOptions } = await import('../integration/adapter_helpers.js');
  const { POLICY_DIR } = await import('../integration/webhook_fixtures.js');
  const dir = mk(join(tmpdir(), 'kg-timeouts-'));
  const saved = process.env.KUBERNETES_SERVICE_HOST;
  delete process.env.KUBERNETES_SERVICE_HOST;
  const running = await startGovernor(governorOptions(dir, { policies: [POLICY_DIR], enableAdapter: false, enableWebhook: true, requestTimeoutMs: 1500, requestHeadersTimeoutMs: 1000 }), [webhookComponent], silentLogger);
  try {
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const started = Date.now();
    // Webhook: headers, then part of the body, then nothing: 408 and closed.
    const webhook = new Promise<{ text: string; ms: number }>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: running.ports.webhook!, ca, servername: 'localhost' }, () => s.write('POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"apiVersion":'));
      let text = '';
      s.on('data', (c) => (text += c));
      s.on('error', () => undefined);
      s.on('close', () => resolve({ text, ms: Date.now() - started }));
    });
    // Metrics: half a request line, then nothing: closed.
    const metrics = new Promise<number>((resolve) => {
      const s = connect(running.ports.metrics, '127.0.0.1', () => s.write('GET /metr'));
      s.resume(); // 'close' comes after 'end', which needs the answer read
      s.on('error', () => undefined);
      s.on('close', () => resolve(Date.now() - started));
    });
    const [m, w] = await Promise.all([metrics, webhook]);
    assert.match(w.text, /^HTTP\/1\.1 408 /);
    assert.ok(w.ms >= 1400 && w.ms < 4000, `webhook request cut after ${w.ms} ms`);
    assert.ok(m >= 900 && m < 4000, `metrics request cut after ${m} ms`);
  } finally {
    await running.stop();
    if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});
