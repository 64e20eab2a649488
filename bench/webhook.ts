// Bench 1: the admission webhook over HTTPS keep-alive on loopback with a realistic Deployment and the sample policies,
// at fixed rates and at saturation, against a bare node:https server that parses the review and answers allowed.
// Variants: bare (baseline), express-json (express + express.json()), express (production app, no fast path),
// fast (production: fast path in front of express). Each runs in its own process; the load generator in another.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/observability/log.js';
import { ensureServingCert } from '../src/tls/serving.js';
import { admissionReview, realisticDeployment, sampleEngine, sampleNamespaces } from '../test/integration/webhook_fixtures.js';
import { fixedRate, saturate, type RequestSpec, type SaturationResult, type Target, type LatencyResult } from './lib/load.js';
import { startServer, type WebhookVariant } from './lib/servers.js';

export interface WebhookBenchOptions {
  readonly variants: readonly WebhookVariant[];
  readonly rates: readonly number[];
  /** Variants that run every fixed rate; the others run only `rates[1] ?? rates[0]` (the 1000 req/s target). */
  readonly allRates: readonly WebhookVariant[];
  readonly durationS: number;
  readonly warmupS: number;
  readonly repeats: number;
  readonly fixedConnections: number;
  readonly saturationConnections: number;
  readonly cpuProfDir?: string;
  readonly log: (s: string) => void;
}

export interface WebhookRun {
  readonly repeat: number;
  readonly variant: WebhookVariant;
  /** cpuPerRequestUs: server CPU per request during that fixed-rate run (µs). */
  readonly fixed: (LatencyResult & { readonly stallMs: number; readonly cpuPerRequestUs: number })[];
  readonly saturation: SaturationResult;
  /** Server CPU time per request during the saturation run (µs). */
  readonly cpuPerRequestUs: number;
  readonly rssMiB: number;
  /**
   * fast and fast-deny: the same server's review functions in a tight loop in its process after the load runs, µs
   * per review of each request body (/mutate, /validate), JSON.parse left out.
   */
  readonly tightLoopUs?: readonly number[];
}

/** The denied workload: the realistic Deployment without its owner label, its app container limited to 8 CPUs. */
export function deniedDeployment() {
  const dep = realisticDeployment('shop');
  delete (dep.metadata.labels as Record<string, string>).owner;
  dep.spec.template.spec.containers[0]!.resources = { requests: { cpu: '500m' }, limits: { cpu: '8' } };
  return dep;
}

/** Variants that run the denied workload (the others run the allowed one). */
export const isDenyVariant = (v: WebhookVariant) => v.endsWith('-deny');

/**
 * What the API server sends for one `kubectl apply` of a Deployment: /mutate with the object, /validate with the
 * patched one. `denied`: the Deployment /validate denies.
 */
export function webhookRequests(denied = false): RequestSpec[] {
  const dep = denied ? deniedDeployment() : realisticDeployment('shop');
  const mutated = sampleEngine().mutate(dep, { namespace: 'shop', namespaceInfo: sampleNamespaces().get('shop')! }).mutated;
  const body = (object: unknown, uid: string) => JSON.stringify(admissionReview({ uid, kind: 'Deployment', namespace: 'shop', name: 'checkout', object }));
  return [
    { method: 'POST', path: '/mutate?timeout=10s', headers: { 'content-type': 'application/json' }, body: body(dep, 'bench-mutate') },
    { method: 'POST', path: '/validate?timeout=10s', headers: { 'content-type': 'application/json' }, body: body(mutated, 'bench-validate') },
  ];
}

export async function benchWebhook(o: WebhookBenchOptions): Promise<{ runs: WebhookRun[]; requestBytes: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-webhook-'));
  const certs = await ensureServingCert({ certDir: dir, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, silentLogger);
  const requests = webhookRequests();
  const deniedRequests = webhookRequests(true);
  const ca = (await import('node:fs')).readFileSync(certs.caFile!, 'utf8');
  const runs: WebhookRun[] = [];
  try {
    for (let repeat = 1; repeat <= o.repeats; repeat++) {
      for (const variant of o.variants) {
        const server = await startServer({ kind: 'webhook', variant, certFile: certs.certFile, keyFile: certs.keyFile }, o.cpuProfDir && (variant === 'fast' || variant === 'fast-deny') && repeat === 1 ? { cpuProfDir: o.cpuProfDir } : {});
        const target: Target = { host: '127.0.0.1', port: server.port, ca, servername: 'localhost' };
        const reqs = isDenyVariant(variant) ? deniedRequests : requests;
        try {
          const fixed: WebhookRun['fixed'][number][] = [];
          const rates = o.allRates.includes(variant) ? o.rates : [o.rates[1] ?? o.rates[0]!];
          for (const rate of rates) {
            await server.maxStallMs();
            const c0 = await server.cpuMicros();
            const r = await fixedRate({ target, requests: reqs, connections: o.fixedConnections, rate, durationS: o.durationS, warmupS: o.warmupS });
            // CPU per request at the same fixed rate for every variant: the load generator behaves the same against
            // each, which a saturation run (a mostly idle bare server, a busy production one) does not give.
            const cpuUs = ((await server.cpuMicros()) - c0) / (r.measured * (1 + o.warmupS / o.durationS));
            const stallMs = await server.maxStallMs();
            fixed.push({ ...r, stallMs, cpuPerRequestUs: cpuUs });
            o.log(`  webhook ${variant.padEnd(18)} #${repeat} ${String(rate).padStart(5)} req/s: p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} p99.9 ${r.p999.toFixed(2)} ms (longest stall ${stallMs.toFixed(0)} ms), ${cpuUs.toFixed(0)} µs CPU/request${r.overloaded ? ' OVERLOADED' : ''}${r.non2xx + r.errors ? ` non2xx ${r.non2xx} errors ${r.errors}` : ''}`);
          }
          const cpu0 = await server.cpuMicros();
          const saturation = await saturate({ target, requests: reqs, connections: o.saturationConnections, durationS: o.durationS, warmupS: o.warmupS });
          const cpuPerRequestUs = ((await server.cpuMicros()) - cpu0) / (saturation.requests * (1 + o.warmupS / o.durationS));
          const rssMiB = (await server.rss()) / 2 ** 20;
          o.log(`  webhook ${variant.padEnd(18)} #${repeat} saturation: ${saturation.rps.toFixed(0)} req/s, ${cpuPerRequestUs.toFixed(0)} µs CPU/request (p99 ${saturation.p99} ms, non2xx ${saturation.non2xx}, errors ${saturation.errors}), RSS ${rssMiB.toFixed(0)} MiB`);
          const tightLoopUs = variant === 'fast' || variant === 'fast-deny' ? await server.tightLoopUs(reqs.map((r) => r.body!), 20_000) : undefined;
          if (tightLoopUs) o.log(`  webhook ${variant.padEnd(18)} #${repeat} review in a tight loop in the server process: ${tightLoopUs.map((x) => x.toFixed(1)).join(' and ')} µs (/mutate, /validate)`);
          runs.push({ repeat, variant, fixed, saturation, cpuPerRequestUs, rssMiB, ...(tightLoopUs ? { tightLoopUs } : {}) });
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { runs, requestBytes: [...requests, ...deniedRequests].map((r) => Buffer.byteLength(r.body ?? '')) };
}
