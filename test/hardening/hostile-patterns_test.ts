// Issue 11: catastrophic patterns with hostile values (up to 256 KiB) answer in < 100 ms through the engine and through
// the HTTPS webhook `governor serve` builds, the server keeps answering others meanwhile, and a review that still runs
// past its budget is cut off (fail closed on /validate, open on /mutate) with a metric and a log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GovernanceEngine } from '../../src/governance/engine.js';
import { policiesFrom } from '../../src/governance/testing.js';
import type { GovernancePolicy } from '../../src/policy/governance-policy.js';
import { startGovernor, type RunningGovernor } from '../../src/main.js';
import { silentLogger, type Logger } from '../../src/observability/log.js';
import { governorOptions } from '../integration/adapter_helpers.js';
import { admissionReview, realisticDeployment } from '../integration/webhook_fixtures.js';
import { capturingLogger } from './helpers.js';
import { HOSTILE_CASES, HOSTILE_LENGTHS, hostileDeployment, hostilePolicyYaml, hostileValue } from './hostile-corpus.js';
import { webhookComponent } from '../../src/components.js';

/**
 * The bound. Each review is timed three times and the fastest counts: on the 2 shared cores this runs on, a
 * GC pause or another process can stall any single run, which is not what is measured here (the worst run is
 * reported). A backtracking engine misses the bound by orders of magnitude (seconds at 28 characters).
 */
const LIMIT_MS = 100;
const RUNS = 3;

function fastest(f: () => void): { min: number; max: number } {
  let min = Infinity;
  let max = 0;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    f();
    const ms = performance.now() - started;
    min = Math.min(min, ms);
    max = Math.max(max, ms);
  }
  return { min, max };
}

test('engine: every catastrophic pattern answers each hostile value (28 and 40 characters, 256 KiB) in < 100 ms', (t) => {
  const engine = new GovernanceEngine(policiesFrom(hostilePolicyYaml()));
  let worst = { ms: 0, what: '' };
  let worstFastest = 0;
  for (const [i, c] of HOSTILE_CASES.entries()) {
    for (const length of HOSTILE_LENGTHS) {
      for (const where of ['annotations', 'labels'] as const) {
        const value = hostileValue(c, length);
        const what = `${c.name} (${c.pattern}) on a ${length}-character ${where.slice(0, -1)}`;
        let denied = false;
        const { min, max } = fastest(() => {
          const out = engine.review(hostileDeployment(i, value, where), { namespace: 'tenant' });
          denied = !out.validation.decision.allowed;
        });
        assert.ok(denied, `${what}: the hostile value does not match, so the review denies`);
        assert.ok(min < LIMIT_MS, `${what}: ${min.toFixed(1)} ms`);
        if (max > worst.ms) worst = { ms: max, what };
        worstFastest = Math.max(worstFastest, min);
      }
    }
  }
  t.diagnostic(`engine: worst of the asserted (fastest of ${RUNS}) times ${worstFastest.toFixed(1)} ms; worst single run ${worst.ms.toFixed(1)} ms (${worst.what})`);
});

// ---------------------------------------------------------------- through the HTTPS server `governor serve` builds

interface Answer {
  readonly status: number;
  readonly ms: number;
  readonly json: any;
}

function client(port: number, ca: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 8, ca, servername: 'localhost' });
  const send = (method: string, path: string, body?: unknown): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const started = performance.now();
      const req = httpsRequest(
        { host: '127.0.0.1', port, path, method, agent, headers: data === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            const ms = performance.now() - started;
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = text;
            }
            resolve({ status: res.statusCode!, ms, json });
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  return { send, close: () => agent.destroy() };
}

async function withServer(over: { reviewTimeoutMs?: number; log?: Logger; files?: Record<string, string> }, f: (s: { running: RunningGovernor; send: ReturnType<typeof client>['send'] }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'hostile.yaml'), hostilePolicyYaml());
  for (const [name, text] of Object.entries(over.files ?? {})) writeFileSync(join(dir, 'policies', name), text);
  const saved = process.env.KUBERNETES_SERVICE_HOST;
  delete process.env.KUBERNETES_SERVICE_HOST; // no cluster: static namespaces, no Events
  const options = governorOptions(dir, { enableAdapter: false, enableWebhook: true, serviceNamespace: 'governor-system', ...(over.reviewTimeoutMs !== undefined ? { reviewTimeoutMs: over.reviewTimeoutMs } : {}) });
  const running = await startGovernor(options, [webhookComponent], over.log ?? silentLogger);
  const c = client(running.ports.webhook!, readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8'));
  try {
    await f({ running, send: c.send });
  } finally {
    c.close();
    await running.stop();
    if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    rmSync(dir, { recursive: true, force: true });
  }
}

const hostileReview = (i: number, length: number, uid = `hostile-${i}-${length}`) =>
  admissionReview({ uid, kind: 'Deployment', namespace: 'tenant', name: 'hostile', object: hostileDeployment(i, hostileValue(HOSTILE_CASES[i]!, length)) });
const benignReview = (uid: string) => admissionReview({ uid, kind: 'Deployment', namespace: 'shop', name: 'checkout', object: realisticDeployment('shop') });

test('HTTPS webhook: each hostile review is answered in < 100 ms on /mutate and /validate', async (t) => {
  await withServer({}, async ({ send }) => {
    let worst = { ms: 0, what: '' };
    let worstFastest = 0;
    for (const i of HOSTILE_CASES.keys()) {
      for (const length of HOSTILE_LENGTHS) {
        for (const route of ['/mutate', '/validate']) {
          const what = `${route} ${HOSTILE_CASES[i]!.name}, ${length} characters`;
          let min = Infinity;
          for (let run = 0; run < RUNS; run++) {
            const a = await send('POST', route, hostileReview(i, length));
            assert.equal(a.status, 200, what);
            if (route === '/validate') assert.equal(a.json.response.allowed, false, what);
            min = Math.min(min, a.ms);
            if (a.ms > worst.ms) worst = { ms: a.ms, what };
          }
          assert.ok(min < LIMIT_MS, `${what}: ${min.toFixed(1)} ms`);
          worstFastest = Math.max(worstFastest, min);
        }
      }
    }
    t.diagnostic(`HTTPS (request sent to answer read): worst of the asserted times ${worstFastest.toFixed(1)} ms; worst single run ${worst.ms.toFixed(1)} ms (${worst.what})`);
  });
});

test('HTTPS webhook: a benign review and the probes sent alongside hostile ones are answered promptly', async (t) => {
  const log = capturingLogger();
  await withServer({ log: log.log }, async ({ running, send }) => {
    const metricsPort = running.ports.metrics;
    // Warm-up: open the keep-alive TLS connections (a handshake each) and compile the hot code first.
    await Promise.all(Array.from({ length: 8 }, (_, i) => send('POST', '/validate', benignReview(`warm-${i}`))));
    let worstBenign = 0;
    let worstProbe = 0;
    for (const i of HOSTILE_CASES.keys()) {
      const big = 256 * 1024;
      // The hostile reviews go first on the same event loop; the benign one and the probes must not wait seconds behind them.
      const hostile = [send('POST', '/validate', hostileReview(i, big, `h1-${i}`)), send('POST', '/mutate', hostileReview(i, big, `h2-${i}`))];
      const benign = send('POST', '/validate', benignReview(`benign-${i}`));
      const probes = [send('GET', '/readyz'), send('GET', '/livez'), fetch(`http://127.0.0.1:${metricsPort}/livez`).then(async (r) => ({ status: r.status, text: await r.text() }))];
      const started = performance.now();
      const [b, readyz, livez, metricsLivez] = await Promise.all([benign, ...probes] as const);
      const probeMs = performance.now() - started;
      for (const h of await Promise.all(hostile)) assert.equal(h.status, 200);
      assert.equal(b.status, 200);
      assert.equal(b.json.response.uid, `benign-${i}`);
      assert.equal(b.json.response.allowed, true, JSON.stringify(b.json.response));
      assert.equal((readyz as Answer).status, 200);
      assert.equal((livez as Answer).status, 200);
      assert.equal(metricsLivez.status, 200);
      worstBenign = Math.max(worstBenign, b.ms);
      worstProbe = Math.max(worstProbe, probeMs);
      // Two 256 KiB hostile reviews ahead of them (each < 100 ms, plus TLS and JSON for half a megabyte): a backtracking
      // engine held them for seconds to minutes. The bound leaves slack for a loaded machine (on 2 cores shared by a
      // dozen processes the worst seen was under half of it); the worst is reported.
      assert.ok(b.ms < 1000, `benign review after ${HOSTILE_CASES[i]!.name}: ${b.ms.toFixed(1)} ms`);
      assert.ok(probeMs < 1000, `probes after ${HOSTILE_CASES[i]!.name}: ${probeMs.toFixed(1)} ms`);
    }
    t.diagnostic(`worst benign review answered alongside two 256 KiB hostile ones: ${worstBenign.toFixed(1)} ms; worst probe: ${worstProbe.toFixed(1)} ms`);
    assert.ok(!log.lines().some((l) => l.includes('review deadline exceeded')), 'no hostile review needed the deadline');
  });
});

test('HTTPS webhook: a review past its budget is cut off: /validate denies (enforce), /mutate allows without a patch; counted and logged', async () => {
  const log = capturingLogger();
  // A budget of 0 ms: the engine's first deadline check finds it passed.
  await withServer({ reviewTimeoutMs: 0, log: log.log }, async ({ running, send }) => {
    const v = await send('POST', '/validate', hostileReview(0, 40, 'late-v'));
    assert.equal(v.status, 200);
    assert.equal(v.json.response.allowed, false);
    assert.equal(v.json.response.status.code, 403);
    assert.match(v.json.response.status.message, /^the review stopped at its 0 ms budget before enforce policies hostile were evaluated: denied so that nothing unchecked is admitted/);
    const m = await send('POST', '/mutate', hostileReview(0, 40, 'late-m'));
    assert.equal(m.json.response.allowed, true);
    assert.equal(m.json.response.patch, undefined);
    assert.deepEqual(m.json.response.warnings, ['governor: defaults not applied: the review stopped at its 0 ms budget (policies hostile)']);
    // Nothing matches in governor-system (skipped namespace): no policy is left unfinished, so no cut-off.
    const own = await send('POST', '/validate', admissionReview({ uid: 'own', kind: 'Deployment', namespace: 'governor-system', name: 'x', object: realisticDeployment('governor-system') }));
    assert.deepEqual(own.json.response, { uid: 'own', allowed: true });
    const metrics = await (await fetch(`http://127.0.0.1:${running.ports.metrics}/metrics`)).text();
    assert.match(metrics, /^governor_review_deadline_exceeded_total\{webhook="validate"\} 1$/m);
    assert.match(metrics, /^governor_review_deadline_exceeded_total\{webhook="mutate"\} 1$/m);
    const lines = log.lines().filter((l) => l.includes('review deadline exceeded')).map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.deepEqual(
      lines.map((l) => [l.webhook, l.uid, l.budgetMs, l.unfinished]),
      [
        ['validate', 'late-v', 0, ['hostile']],
        ['mutate', 'late-m', 0, ['hostile']],
      ],
    );
    assert.equal(lines[0].level, 'warn');
  });
});

test('HTTPS webhook: an object huge by sheer size (50,000 containers, 1.5 MB) is answered well within the budget without being walked, and the probes still answer', async (t) => {
  const log = capturingLogger();
  const requests = 'apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: requests}\nspec:\n  resources: {require: [requests.cpu], defaults: {requests: {memory: 64Mi}}}\n';
  await withServer({ reviewTimeoutMs: 200, log: log.log, files: { 'requests.yaml': requests } }, async ({ send }) => {
    const containers = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: 'x' }));
    const obj = realisticDeployment('shop') as any;
    const old = realisticDeployment('shop') as any;
    // Object and old object: just under the webhook's 3 MiB body limit (the API server's own request limit). The
    // update adds a container, so the pre-existing "too many containers" finding is made worse and still denies
    // (the counts include the realistic Deployment's one init container).
    obj.spec.template.spec.containers = containers(50_000);
    old.spec.template.spec.containers = containers(49_999);
    const body = admissionReview({ uid: 'huge', kind: 'Deployment', namespace: 'shop', name: 'checkout', operation: 'UPDATE', object: obj, oldObject: old });
    const validate = send('POST', '/validate', body);
    const mutate = send('POST', '/mutate', { ...body, request: { ...body.request, uid: 'huge-m' } });
    const probe = send('GET', '/livez');
    const [v, m, p] = await Promise.all([validate, mutate, probe]);
    assert.equal(v.status, 200, JSON.stringify(v.json).slice(0, 300));
    assert.equal(v.json.response.allowed, false);
    assert.match(v.json.response.status.message, /lists 50001 containers and init containers: this policy checks at most 1000 per pod spec \(made worse by this update: was 50000 containers\)/);
    assert.equal(m.json.response.allowed, true);
    assert.equal(m.json.response.patch, undefined);
    assert.equal(p.status, 200);
    // Without bounds this object took 9-12 s to validate on the development machine; the resource rules now walk at
    // most 1,000 containers, so what is left is reading 1.5 MB twice over TLS (generous slack for a loaded machine).
    assert.ok(v.ms < 2000, `validate answered after ${v.ms.toFixed(0)} ms`);
    assert.ok(p.ms < 2000, `probe answered after ${p.ms.toFixed(0)} ms`);
    t.diagnostic(`50,000 containers: /validate ${v.ms.toFixed(0)} ms, /mutate ${m.ms.toFixed(0)} ms, /livez alongside ${p.ms.toFixed(0)} ms`);
    // Both reviews finished inside the budget: nothing was cut off.
    assert.equal(log.lines().filter((l) => l.includes('review deadline exceeded')).length, 0);
  });
});

// ---------------------------------------------------------------- every other path from user input

test('every other user-controlled evaluation is linear: label keys and values, selectors, wildcards, JSON Pointer escaping, durations (256 KiB inputs)', async () => {
  const { isValidLabelKey, isValidLabelValue, parseSelector } = await import('../../src/common/labels.js');
  const { compileNamePattern } = await import('../../src/policy/governance-policy.js');
  const { escapePointerSegment } = await import('../../src/wire/pointer.js');
  const { parseDuration } = await import('../../src/common/duration.js');
  const n = 256 * 1024;
  const shapes = ['a'.repeat(n) + '!', `${'a'.repeat(61)}.`.repeat(n / 62) + '!', 'a-'.repeat(n / 2) + '/!', `a/${'a-'.repeat(n / 2)}!`, 'a.'.repeat(n / 2) + '/' + 'a'.repeat(64)];
  const checks: [string, () => unknown][] = [
    ...shapes.map((s, i): [string, () => unknown] => [`label key shape ${i}`, () => isValidLabelKey(s)]),
    ...shapes.map((s, i): [string, () => unknown] => [`label value shape ${i}`, () => isValidLabelValue(s)]),
    ...shapes.map((s, i): [string, () => unknown] => [`selector shape ${i}`, () => assert.throws(() => parseSelector(s))]),
    ['selector of 4096 characters', () => parseSelector(Array.from({ length: 400 }, (_, i) => `k${i} in (a,b)`).join(',').slice(0, 4000).replace(/,[^,]*$/, ''))],
    ['wildcard with seven stars', () => assert.equal(compileNamePattern('*a*a*a*a*a*a*b').test('a'.repeat(n)), false)],
    ['wildcard with ?', () => assert.equal(compileNamePattern('?'.repeat(64) + '*x').test('a'.repeat(n)), false)],
    ['JSON Pointer escaping', () => assert.equal(escapePointerSegment('~/'.repeat(n / 2)).length, 2 * n)],
    ['duration', () => assert.throws(() => parseDuration(`${'1s'.repeat(n / 2)}x`))],
  ];
  for (const [what, f] of checks) {
    const { min } = fastest(() => void f());
    assert.ok(min < LIMIT_MS, `${what}: ${min.toFixed(1)} ms`);
  }
});

test('engine: exception wildcards against a 256 KiB object name, and the object itself, review in < 100 ms', () => {
  const engine = new GovernanceEngine(
    policiesFrom(`apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: names}
spec:
  match: {namespaces: ['*a*a*a*a*a*a*b', 'ten*']}
  labels: {owner: {required: true}}
  exceptions: [{name: '*a*a*a*a*a*a*b', namespace: 't*t*t*t*t*x', reason: legacy}]
`),
  );
  const name = 'a'.repeat(256 * 1024);
  const obj = hostileDeployment(0, 'ok') as any;
  obj.metadata.name = name;
  let denied = false;
  const { min } = fastest(() => {
    denied = !engine.review(obj, { namespace: 'tenant', name }).validation.decision.allowed;
  });
  assert.equal(denied, true, 'no exception matches, owner is missing');
  assert.ok(min < LIMIT_MS, `${min.toFixed(1)} ms`);
});

test('handlers past the budget: audit policies only warn, enforce ones deny; findings made before the cut-off still deny', async () => {
  const { validateHandler } = await import('../../src/admission/handlers.js');
  const { FakeEventRecorder } = await import('../../src/kube/events.js');
  const { StaticNamespaces } = await import('../../src/kube/namespaces.js');
  const { createMetrics } = await import('../../src/observability/metrics.js');
  const { policy } = await import('../../src/governance/testing.js');
  const audit = policy('audit-owner', '  mode: audit\n  labels: {owner: {required: true}}\n');
  const enforce = policy('enforce-owner', '  labels: {owner: {required: true}}\n');
  const handler = (policies: GovernancePolicy[], budget: number) => {
    const engine = new GovernanceEngine(policies);
    return validateHandler({ engine: () => engine, namespaces: new StaticNamespaces(), events: new FakeEventRecorder(), log: silentLogger, metrics: createMetrics({ defaultMetrics: false }), reviewBudgetMs: budget });
  };
  const req = (uid: string) => ({ uid, kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, namespace: 'tenant', name: 'hostile', operation: 'CREATE' as const, object: hostileDeployment(0, 'ok') });

  const auditOnly = handler([audit], 0)(req('a'));
  assert.equal(auditOnly.allowed, true);
  assert.deepEqual(auditOnly.warnings, ['governor: audit policies not evaluated: the review stopped at its 0 ms budget (audit-owner)']);

  const both = handler([audit, enforce], 0)(req('b'));
  assert.equal(both.allowed, false);
  assert.equal(both.status?.message, 'the review stopped at its 0 ms budget before enforce policies enforce-owner were evaluated: denied so that nothing unchecked is admitted; retry, or simplify the object');
  assert.equal(both.warnings?.length, 1);

  // Cut off at the 9th policy (the engine reads its clock every 8): the 8 enforce policies before it were evaluated
  // and deny; the unfinished one is audit, so it only adds a warning.
  const nine = [...Array.from({ length: 8 }, (_, i) => policy(`e${i}`, '  target: object\n  labels: {owner: {required: true}}\n')), policy('z-audit', '  mode: audit\n  labels: {owner: {required: true}}\n')];
  let reads = 0;
  const late = new GovernanceEngine(nine, { now: () => performance.now() + (reads++ === 0 ? 0 : 1e9) });
  const partial = validateHandler({ engine: () => late, namespaces: new StaticNamespaces(), events: new FakeEventRecorder(), log: silentLogger, reviewBudgetMs: 500 })(req('d'));
  assert.equal(partial.allowed, false);
  assert.deepEqual(partial.status?.message.split('\n'), Array.from({ length: 8 }, (_, i) => `metadata.labels.owner is required (policy e${i}, rule require-labels)`));
  assert.deepEqual(partial.warnings, ['governor: audit policies not evaluated: the review stopped at its 500 ms budget (z-audit)']);

  // With time to spare the same review is decided by the rules themselves.
  assert.equal(handler([audit], 500)(req('c')).warnings?.[0]?.includes('owner is required'), true);
});
