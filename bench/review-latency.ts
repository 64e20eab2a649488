// Latency of one admission review of a realistic Deployment against the sample policies (policies/governance):
// the engine alone (mutate + validate), then /mutate and /validate over HTTPS on loopback through the webhook's listener,
// with the load generator in a child process. Bounded: a fixed number of requests per phase.
//
// Also, in the same run, the cost of `when` conditions: policies that apply to the Deployment without conditions,
// the same policies with conditions that hold, and with a policy-wide condition that does not (every rule skipped).
//
//   node --import tsx bench/review-latency.ts [--requests 3000] [--extra-policies 1000] [--condition-policies 50] [--engine-only]
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mutateHandler, reviewFunction, validateHandler, type AdmissionEnvironment } from '../src/admission/handlers.js';
import { createWebhookListener } from '../src/admission/http.js';
import { GovernanceEngine } from '../src/governance/engine.js';
import type { GovernancePolicy } from '../src/policy/governance-policy.js';
import { policy } from '../src/governance/testing.js';
import { noopEventRecorder } from '../src/kube/events.js';
import { createMetrics } from '../src/observability/metrics.js';
import { createSecureServer, listen } from '../src/server/https.js';
import { ensureServingCert, readTlsMaterial } from '../src/tls/serving.js';
import { silentLogger } from '../src/observability/log.js';
import { admissionReview, realisticDeployment, sampleEngine, sampleNamespaces, samplePolicies } from '../test/integration/webhook_fixtures.js';

interface ClientJob {
  port: number;
  ca: string;
  requests: number;
  bodies: { path: string; body: string }[];
}
interface Stats {
  path: string;
  requests: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  failures: number;
}

const quantile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
const fmt = (ms: number) => `${ms.toFixed(3)} ms`;

async function runClient(job: ClientJob): Promise<Stats[]> {
  const { Agent, request } = await import('node:https');
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: job.ca, servername: 'localhost' });
  const out: Stats[] = [];
  for (const { path, body } of job.bodies) {
    let failures = 0;
    const one = () =>
      new Promise<number>((resolve) => {
        const t0 = process.hrtime.bigint();
        const req = request({ host: '127.0.0.1', port: job.port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            if (res.statusCode !== 200 || !text.includes('"uid"')) failures++;
            resolve(Number(process.hrtime.bigint() - t0) / 1e6);
          });
        });
        req.on('error', () => {
          failures++;
          resolve(Number.NaN);
        });
        req.end(body);
      });
    for (let i = 0; i < 200; i++) await one(); // warm-up: handshake, JIT
    const lat: number[] = [];
    for (let i = 0; i < job.requests; i++) lat.push(await one());
    lat.sort((a, b) => a - b);
    out.push({ path, requests: lat.length, p50: quantile(lat, 0.5), p90: quantile(lat, 0.9), p99: quantile(lat, 0.99), max: lat.at(-1)!, failures });
  }
  agent.destroy();
  return out;
}

function engineBench(engine: GovernanceEngine, requests: number) {
  const dep = realisticDeployment();
  const ctx = { namespace: 'shop', namespaceInfo: { labels: { tier: 'prod', 'data-classification': 'internal', migrations: 'enabled' }, annotations: { 'cost-center': 'CC-1001' } } };
  for (let i = 0; i < 500; i++) engine.review(dep, ctx);
  const lat: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t0 = process.hrtime.bigint();
    engine.review(dep, ctx);
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  lat.sort((a, b) => a - b);
  return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) };
}

/**
 * `when` conditions: N policies for the Deployment's namespace (a label rule, a resources rule), as they are, with
 * conditions that hold (on the policy, on resources and on the label rule: every rule still evaluated, plus the
 * conditions), and with a policy-wide condition that does not hold (every rule skipped and reported as skipped).
 * The variants take turns in rounds, so a busy machine slows them alike.
 */
function conditionBench(samples: readonly GovernancePolicy[], n: number, requests: number) {
  const body = (when: { spec?: string; resources?: string; label?: string }) =>
    `  match: {namespaces: [shop]}\n${when.spec ? `  when: ${when.spec}\n` : ''}  labels: {owner: {required: true${when.label ? `, when: ${when.label}` : ''}}}\n  resources: {${when.resources ? `when: ${when.resources}, ` : ''}require: [limits.memory], max: {cpu: "8"}}`;
  const variants = [
    ['without conditions', {}],
    ['with conditions that hold', { spec: '{operations: [CREATE, UPDATE], volumeTypes: [configMap]}', resources: '{containerResources: [cpu]}', label: '{labels: {matchExpressions: [{key: app, operator: Exists}]}}' }],
    ['with a policy condition that does not hold', { spec: '{volumeTypes: [hostPath]}' }],
  ] as const;
  const engines = variants.map(([, when]) => new GovernanceEngine([...samples, ...Array.from({ length: n }, (_, i) => policy(`cond-${i}`, body(when)))]));
  const dep = realisticDeployment();
  const ctx = { namespace: 'shop', namespaceInfo: { labels: { tier: 'prod', 'data-classification': 'internal', migrations: 'enabled' }, annotations: { 'cost-center': 'CC-1001' } } };
  const lat = engines.map(() => [] as number[]);
  for (const e of engines) for (let i = 0; i < 500; i++) e.review(dep, ctx);
  const rounds = 20;
  for (let r = 0; r < rounds; r++) {
    engines.forEach((e, k) => {
      for (let i = 0; i < Math.ceil(requests / rounds); i++) {
        const t0 = process.hrtime.bigint();
        e.review(dep, ctx);
        lat[k]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    });
  }
  variants.forEach(([what], k) => {
    const l = lat[k]!.sort((a, b) => a - b);
    console.log(`engine review, ${n} policies for the namespace ${what}: p50 ${fmt(quantile(l, 0.5))}  p99 ${fmt(quantile(l, 0.99))}`);
  });
}

if (process.argv.includes('--client')) {
  process.once('message', async (job: ClientJob) => process.send!(await runClient(job), () => process.exit(0)));
} else {
  await main();
}

async function main() {
  const arg = (name: string, dflt: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1]! : dflt;
  };
  const requests = Math.min(20_000, Number(arg('--requests', '3000')));
  const extra = Math.min(5000, Number(arg('--extra-policies', '1000')));

  const samples = samplePolicies();
  const e1 = engineBench(new GovernanceEngine(samples), requests);
  console.log(`engine review (mutate + validate), ${samples.length} sample policies: p50 ${fmt(e1.p50)}  p99 ${fmt(e1.p99)}`);
  const noise = Array.from({ length: extra }, (_, i) => policy(`other-${i}`, `  match: {namespaces: [team-${i}]}\n  labels: {owner: {required: true}}\n  resources: {require: [limits.memory]}`));
  const e2 = engineBench(new GovernanceEngine([...samples, ...noise]), requests);
  console.log(`engine review with ${extra} more policies for other namespaces: p50 ${fmt(e2.p50)}  p99 ${fmt(e2.p99)}`);
  conditionBench(samples, Math.min(1000, Number(arg('--condition-policies', '50'))), requests);
  if (process.argv.includes('--engine-only')) return;

  // The webhook's own listener and handlers over HTTPS, with the namespace labels a cluster would have, so every
  // sample policy applies to the Deployment (in a real cluster they come from the namespace informer).
  const dir = mkdtempSync(join(tmpdir(), 'kg-review-bench-'));
  const certs = await ensureServingCert({ certDir: dir, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, silentLogger);
  const engine = sampleEngine();
  const env: AdmissionEnvironment = { engine: () => engine, namespaces: sampleNamespaces(), events: noopEventRecorder, log: silentLogger, metrics: createMetrics({ defaultMetrics: false }) };
  const listener = createWebhookListener({ mutate: reviewFunction('mutate', mutateHandler(env), env), validate: reviewFunction('validate', validateHandler(env), env), log: silentLogger, metrics: env.metrics! });
  const server = createSecureServer(listener, { tls: await readTlsMaterial(certs) });
  const port = await listen(server.server, 0, '127.0.0.1');
  try {
    const dep = realisticDeployment('shop');
    // /validate gets what the API server would send it: the object after the mutating patch.
    const mutated = engine.mutate(dep, { namespace: 'shop', namespaceInfo: sampleNamespaces().get('shop')! }).mutated;
    const body = (path: string, object: unknown) => ({ path, body: JSON.stringify(admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object })) });
    const child = fork(fileURLToPath(import.meta.url), ['--client'], { execArgv: ['--import', 'tsx'] });
    const stats = await new Promise<Stats[]>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Stats[]));
      child.once('error', reject);
      child.send({ port, ca: readFileSync(certs.caFile!, 'utf8'), requests, bodies: [body('/mutate?timeout=10s', dep), body('/validate?timeout=10s', mutated)] } satisfies ClientJob);
    });
    for (const s of stats) {
      console.log(`HTTPS ${s.path.split('?')[0]} (keep-alive, 1 connection, ${s.requests} requests): p50 ${fmt(s.p50)}  p90 ${fmt(s.p90)}  p99 ${fmt(s.p99)}  max ${fmt(s.max)}  failures ${s.failures}`);
    }
  } finally {
    await server.close(1000);
    rmSync(dir, { recursive: true, force: true });
  }
}
