// The server process of a bench (forked by servers.ts): builds one variant, reports its port, RSS and heap on request.
import express from 'express';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { adapterComponentWith } from '../../src/components.js';
import { mutateHandler, reviewFunction, validateHandler, type AdmissionEnvironment } from '../../src/admission/handlers.js';
import { createWebhookListener } from '../../src/admission/http.js';
import { decodeAdmissionReview, encodeAdmissionReview } from '../../src/admission/review.js';
import { GovernanceEngine } from '../../src/governance/engine.js';
import { policy } from '../../src/governance/testing.js';
import { noopEventRecorder } from '../../src/kube/events.js';
import { startGovernor } from '../../src/main.js';
import { tuneV8ForServing } from '../../src/server/v8-flags.js';
import { governorOptions } from '../../test/integration/adapter_helpers.js';
import { createLogger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createSecureServer, listen } from '../../src/server/https.js';
import { sampleNamespaces, samplePolicies } from '../../test/integration/webhook_fixtures.js';
import type { AdapterServerSpec, ServerSpec, WebhookServerSpec } from './servers.js';

/**
 * Info-level JSON logs, as in production (asynchronous writes to a file descriptor), written nowhere: their cost
 * counts, their volume does not. GOVERNOR_BENCH_LOG_LEVEL (bench/webhook-tail.ts) sets another level, to see what
 * the denial's log line costs.
 */
const log = createLogger({ level: (process.env.GOVERNOR_BENCH_LOG_LEVEL as 'info' | undefined) ?? 'info', destination: '/dev/null' });

/** Garbage collections since the last ask, by kind (bench/webhook-tail.ts): count, total and longest pause in ms. */
const GC_KINDS: Record<number, string> = { [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
let gcStats: Record<string, { n: number; ms: number; maxMs: number }> = {};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = GC_KINDS[(e as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
    const s = (gcStats[kind] ??= { n: 0, ms: 0, maxMs: 0 });
    s.n++;
    s.ms += e.duration;
    s.maxMs = Math.max(s.maxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });

/** Review times (µs, the review function alone: decode, engine, handler, encode) since the last ask, when GOVERNOR_BENCH_TIMING=1. */
const timing = process.env.GOVERNOR_BENCH_TIMING === '1' ? { mutate: [] as number[], validate: [] as number[] } : undefined;
function timed(name: 'mutate' | 'validate', f: (body: unknown) => ReturnType<typeof encodeAdmissionReview>) {
  if (!timing) return f;
  const out = timing[name];
  return (body: unknown) => {
    const t0 = performance.now();
    try {
      return f(body);
    } finally {
      if (out.length < 1_000_000) out.push((performance.now() - t0) * 1000);
    }
  };
}
function percentiles(xs: number[]) {
  const s = Float64Array.from(xs).sort();
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : 0);
  return { n: s.length, mean: s.length ? s.reduce((a, x) => a + x, 0) / s.length : 0, p50: q(0.5), p99: q(0.99), p999: q(0.999), max: s.length ? s[s.length - 1]! : 0 };
}

/** What the bare-deny baseline answers on /validate: production's answer for the denied workload, written as constants. */
const BARE_DENIAL = {
  allowed: false,
  status: {
    code: 403,
    reason: 'Forbidden',
    message: [
      'spec.template.spec.containers[0].resources.limits.cpu must be at most 4 (is 8) (policy team-defaults, rule max-resources)',
      'spec.template.spec.containers[0].resources.limits.cpu must be at most 4x the request (is 16x) (policy team-defaults, rule max-limit-request-ratio)',
      'metadata.labels.owner is required (matching ^[a-z][a-z0-9-]*$) (policy team-defaults, rule require-labels)',
    ].join('\n'),
  },
  warnings: ['[audit] compliance-tags/require-labels: spec.template.metadata.labels.owner is required (matching ^[a-z][a-z0-9-]*$)'],
  auditAnnotations: { warnings: 'spec.template.metadata.labels.owner is required (matching ^[a-z][a-z0-9-]*$) (policy compliance-tags, rule require-labels)' },
};

let stop: () => Promise<void> = async () => undefined;
/**
 * The server's own review functions (production's, whatever the variant answers with) in a tight loop in this process,
 * on request bodies the bench sends: µs per review, JSON.parse of each body left out (bare pays it too). The review's
 * cost with the caches and branch predictors to itself, against what it costs between the HTTP layer's work.
 */
let tightLoop: ((bodies: readonly string[], rounds: number, thrashKiB?: number) => number[]) | undefined;
let inspector: import('node:inspector').Session | undefined;
/** One call on this process's own inspector session (the CPU and allocation profiles below), connected on first use. */
async function inspectorCall(method: string, params?: object): Promise<any> {
  if (!inspector) {
    const { Session } = await import('node:inspector');
    inspector = new Session();
    inspector.connect();
  }
  return new Promise<any>((resolve, reject) => inspector!.post(method, params ?? {}, (err, r) => (err ? reject(err) : resolve(r))));
}
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();

/** fast-canned: the first answer of `f`, then the request decoded and that answer under its uid (see servers.ts). */
function cannedAnswer(f: (body: unknown) => ReturnType<typeof encodeAdmissionReview>): typeof f {
  let answer: ReturnType<typeof encodeAdmissionReview>['response'] | undefined;
  return (body) => {
    if (!answer) return encodeAdmissionReview((answer = f(body).response));
    return encodeAdmissionReview({ ...answer, uid: decodeAdmissionReview(body).uid });
  };
}

function noisePolicies(n: number, offset = 0) {
  return Array.from({ length: n }, (_, i) =>
    policy(`other-${offset + i}`, `  match: {kinds: [Deployment, StatefulSet], namespaces: [team-${offset + i}]}\n  labels: {owner: {required: true}}\n  resources: {require: [limits.memory]}`),
  );
}

async function webhook(spec: WebhookServerSpec): Promise<number> {
  const tls = { cert: readFileSync(spec.certFile, 'utf8'), key: readFileSync(spec.keyFile, 'utf8') };
  if (spec.variant === 'bare' || spec.variant === 'bare-deny') {
    const deny = spec.variant === 'bare-deny';
    const server = createServer({ ...tls, minVersion: 'TLSv1.2', keepAliveTimeout: 65_000 }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let uid = '';
        try {
          uid = JSON.parse(Buffer.concat(chunks).toString('utf8'))?.request?.uid ?? '';
        } catch {
          res.writeHead(400).end();
          return;
        }
        const response = deny && uid.includes('validate') ? { uid, ...BARE_DENIAL } : { uid, allowed: true };
        const out = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
        res.end(out);
      });
    });
    const port = await listen(server, 0, '127.0.0.1');
    stop = () => new Promise((r) => server.close(() => r()));
    return port;
  }
  // As `governor serve` runs (src/main.ts): V8's allocation-site pretenuring off.
  tuneV8ForServing();
  const samples = spec.onlyGenerated
    ? [...Array.from({ length: spec.onlyGenerated.matching }, (_, i) => ({ ...samplePolicies().find((p) => p.name === 'team-defaults')!, name: `team-defaults-${i}` })), ...noisePolicies(spec.onlyGenerated.total - spec.onlyGenerated.matching)]
    : [...samplePolicies(), ...noisePolicies(spec.extraPolicies ?? 0)];
  const engine = new GovernanceEngine(samples, { skipNamespaces: ['kube-system', 'kube-governor'] });
  const metrics = createMetrics();
  const env: AdmissionEnvironment = { engine: () => engine, namespaces: sampleNamespaces(), events: noopEventRecorder, log, metrics };
  const allowOnly = spec.variant.endsWith('-allow');
  const canned = spec.variant.startsWith('fast-canned');
  const http = canned ? 'fast' : spec.variant.replace(/-(allow|deny)$/, '');
  const allow = (body: unknown) => encodeAdmissionReview({ uid: decodeAdmissionReview(body).uid, allowed: true });
  const review = (f: (body: unknown) => ReturnType<typeof encodeAdmissionReview>) => (allowOnly ? allow : canned ? cannedAnswer(f) : f);
  const production = { mutate: reviewFunction('mutate', mutateHandler(env), env), validate: reviewFunction('validate', validateHandler(env), env) };
  const mutate = timed('mutate', review(production.mutate));
  const validate = timed('validate', review(production.validate));
  tightLoop = (bodies, rounds, thrashKiB = 0) => {
    // thrashKiB: that much other memory touched (a byte per cache line) before each review, outside the timing.
    const other = new Uint8Array(Math.max(64, thrashKiB * 1024));
    return bodies.map((text, i) => {
      const f = i % 2 ? production.validate : production.mutate; // the bench's order: /mutate, then /validate
      let us = 0;
      for (let r = 0; r < rounds; r++) {
        if (thrashKiB) for (let j = 0; j < other.length; j += 64) other[j]!++;
        const body = JSON.parse(text);
        const t0 = performance.now();
        f(body);
        us += performance.now() - t0;
      }
      return (us * 1000) / rounds;
    });
  };
  let listener;
  if (http === 'express-json') {
    const app = express();
    app.disable('x-powered-by');
    app.disable('etag');
    app.use(express.json({ limit: '3mb' }));
    app.post('/mutate', (req, res) => void res.json(mutate(req.body)));
    app.post('/validate', (req, res) => void res.json(validate(req.body)));
    listener = app;
  } else {
    listener = createWebhookListener({ mutate, validate, log, metrics, fastPath: http === 'fast' });
  }
  const server = createSecureServer(listener, { tls });
  const port = await listen(server.server, 0, '127.0.0.1');
  stop = () => server.close(1000);
  return port;
}

async function adapter(spec: AdapterServerSpec): Promise<number> {
  if (spec.variant === 'bare') {
    const server = createServer(
      {
        cert: readFileSync(join(spec.certDir, 'tls.crt'), 'utf8'),
        key: readFileSync(join(spec.certDir, 'tls.key'), 'utf8'),
        ca: readFileSync(spec.frontProxyCaFile, 'utf8'),
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        keepAliveTimeout: 65_000,
      },
      (req, res) => {
        const authorized = (req.socket as import('node:tls').TLSSocket).authorized && Boolean(req.headers['x-remote-user']);
        const out = JSON.stringify({
          kind: 'ExternalMetricValueList',
          apiVersion: 'external.metrics.k8s.io/v1beta1',
          metadata: {},
          items: [{ metricName: 'desired-replicas', metricLabels: { 'governor.io/policy': 'p' }, timestamp: new Date().toISOString(), window: 30, value: '3' }],
        });
        res.writeHead(authorized ? 200 : 401, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
        res.end(out);
      },
    );
    const port = await listen(server, 0, '127.0.0.1');
    stop = () => new Promise((r) => server.close(() => r()));
    return port;
  }
  const options = governorOptions(spec.certDir, {
    policies: [spec.policyDir],
    certDir: spec.certDir,
    requestheaderClientCaFile: spec.frontProxyCaFile,
    requestheaderAllowedNames: ['front-proxy-client'],
    allowedSourceHosts: ['127.0.0.1'],
    policyPollMs: 600_000,
    clusterPolicies: false,
  });
  const gov = await startGovernor(options, [adapterComponentWith({ fastPath: spec.variant === 'fast' })], log);
  stop = () => gov.stop();
  return gov.ports.adapter!;
}

async function start(spec: ServerSpec): Promise<number> {
  return spec.kind === 'webhook' ? webhook(spec) : adapter(spec);
}

process.on('message', async (m: { op: string; spec?: ServerSpec; bodies?: string[]; rounds?: number; thrashKiB?: number }) => {
  try {
    if (m.op === 'start') process.send!({ port: await start(m.spec!) });
    else if (m.op === 'rss') {
      global.gc?.();
      process.send!({ value: process.memoryUsage().rss });
    } else if (m.op === 'stall') {
      // The longest event-loop delay since the last ask (ms): GC pauses and synchronous work show up here.
      process.send!({ value: loopDelay.max / 1e6 });
      loopDelay.reset();
    } else if (m.op === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ value: u.user + u.system });
    } else if (m.op === 'stats') {
      // GC and review times since the last ask, and the event loop's delay percentiles (ms).
      const value = {
        gc: gcStats,
        loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
        ...(timing ? { reviewUs: { mutate: percentiles(timing.mutate), validate: percentiles(timing.validate) } } : {}),
      };
      gcStats = {};
      loopDelay.reset();
      if (timing) timing.mutate.length = timing.validate.length = 0;
      process.send!({ value });
    } else if (m.op === 'memory') {
      // After a full collection: what the RSS is made of (V8 heap, external, array buffers), as JSON text.
      global.gc?.();
      process.send!({ value: JSON.stringify({ ...process.memoryUsage(), spaces: Object.fromEntries((await import('node:v8')).getHeapSpaceStatistics().map((x) => [x.space_name, x.space_size])) }) });
    } else if (m.op.startsWith('heapsnapshot:')) {
      // A heap snapshot at this moment (bench/adapter.ts with KG_BENCH_HEAP_DIR; bench/lib/heap-summary.ts reads it).
      process.send!({ value: (await import('node:v8')).writeHeapSnapshot(m.op.slice('heapsnapshot:'.length)) });
    } else if (m.op === 'cpu-start' || m.op.startsWith('cpu-stop:')) {
      // KG_BENCH_CPU_DIR (bench/adapter.ts): a CPU profile of the saturation run alone, without start-up and warm-up.
      if (m.op === 'cpu-start') {
        await inspectorCall('Profiler.enable');
        await inspectorCall('Profiler.setSamplingInterval', { interval: 200 });
        await inspectorCall('Profiler.start');
        process.send!({ value: 'started' });
      } else {
        const { profile } = await inspectorCall('Profiler.stop');
        (await import('node:fs')).writeFileSync(m.op.slice('cpu-stop:'.length), JSON.stringify(profile));
        process.send!({ value: 'written' });
      }
    } else if (m.op === 'alloc-start' || m.op.startsWith('alloc-stop:')) {
      // KG_BENCH_ALLOC_DIR (bench/adapter.ts): what the load allocates that outlives a scavenge. Objects a minor GC
      // collects are left out, so the profile holds what was promoted or is still alive.
      if (m.op === 'alloc-start') {
        await inspectorCall('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMinorGC: false, includeObjectsCollectedByMajorGC: true });
        process.send!({ value: 'started' });
      } else {
        const { profile } = await inspectorCall('HeapProfiler.stopSampling');
        (await import('node:fs')).writeFileSync(m.op.slice('alloc-stop:'.length), JSON.stringify(profile));
        process.send!({ value: 'written' });
      }
    } else if (m.op === 'tight-loop') {
      if (!tightLoop) throw new Error('tight-loop: this variant has no review functions');
      tightLoop(m.bodies!, Math.min(2000, m.rounds!), m.thrashKiB); // warm-up
      process.send!({ value: tightLoop(m.bodies!, m.rounds!, m.thrashKiB) });
    } else if (m.op === 'heap') {
      global.gc?.();
      process.send!({ value: process.memoryUsage().heapUsed });
    } else if (m.op === 'stop') {
      await stop();
      process.exit(0);
    }
  } catch (e) {
    process.send!({ error: (e as Error).stack ?? String(e) });
    process.exit(1);
  }
});
process.on('disconnect', () => process.exit(0));
