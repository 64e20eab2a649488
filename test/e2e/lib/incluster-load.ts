// Steady admission load for the in-cluster upgrade tests: a bounded loop that server-side-applies Deployments (zero
// replicas, so no pods) into a governed namespace at a fixed rate through the API server, recording every answer; and
// the API server's own view of our webhooks (apiserver_admission_webhook_* metrics) to diff around a rollout.
import { request } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import type { LocalCluster } from '../harness/cluster.js';
import { sleep } from './wait.js';

export interface AdmissionResult {
  readonly atMs: number;
  readonly latencyMs: number;
  /** HTTP status; 0 when the request did not complete. */
  readonly status: number;
  /** True when the stored object carries the mutation (the mutating webhook ran). */
  readonly mutated: boolean;
  readonly message: string;
}

export interface LoadSummary {
  readonly sent: number;
  readonly failed: number;
  /** Failures whose message names our webhooks (or any webhook call), i.e. caused by kube-governor. */
  readonly failedByGovernor: number;
  /** Admitted without the mutation: the mutating webhook (failurePolicy Ignore) was skipped. */
  readonly unmutated: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly examples: readonly string[];
}

export interface AdmissionLoadOptions {
  readonly namespace: string;
  /** Requests per second (default 4). */
  readonly ratePerSecond?: number;
  /** Hard bounds: the loop stops at whichever comes first (defaults 1500 requests, 300 s). */
  readonly maxRequests?: number;
  readonly maxDurationMs?: number;
  /** Object names cycle through this many Deployments (default 8). */
  readonly objects?: number;
  /** The Deployment body for a sequence number (must be admitted by the policies in force). */
  readonly body: (name: string, seq: number) => Record<string, unknown>;
  /** Decides from the stored object whether the mutation happened. */
  readonly isMutated: (obj: any) => boolean;
}

const quantile = (sorted: readonly number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : 0);

/** Runs until stop() or a bound; every request is awaited before the next slot (no pile-up under a slow server). */
export class AdmissionLoad {
  private readonly results: AdmissionResult[] = [];
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    private readonly cluster: LocalCluster,
    private readonly o: AdmissionLoadOptions,
  ) {}

  async start(): Promise<this> {
    const kc = new KubeConfig();
    kc.loadFromFile(this.cluster.kubeconfig);
    const server = new URL(kc.getCurrentCluster()!.server);
    const base: Record<string, unknown> = {};
    await kc.applyToHTTPSOptions(base as never);
    const rate = this.o.ratePerSecond ?? 4;
    const maxRequests = this.o.maxRequests ?? 1500;
    const deadline = Date.now() + (this.o.maxDurationMs ?? 300_000);
    const objects = this.o.objects ?? 8;
    this.loop = (async () => {
      const t0 = Date.now();
      for (let seq = 0; seq < maxRequests && !this.stopped && Date.now() < deadline; seq++) {
        const slot = t0 + (seq * 1000) / rate;
        if (slot > Date.now()) await sleep(slot - Date.now());
        const name = `load-${seq % objects}`;
        const path = `/apis/apps/v1/namespaces/${this.o.namespace}/deployments/${name}?fieldManager=kg-e2e-load&force=true`;
        this.results.push(await this.apply(server, base, path, JSON.stringify(this.o.body(name, seq))));
      }
    })();
    return this;
  }

  private apply(server: URL, base: Record<string, unknown>, path: string, body: string): Promise<AdmissionResult> {
    const atMs = Date.now();
    return new Promise((resolve) => {
      const done = (status: number, text: string) => {
        let mutated = false;
        let message = text.slice(0, 300);
        try {
          const obj = JSON.parse(text);
          if (status >= 200 && status < 300) mutated = this.o.isMutated(obj);
          else message = obj.message ?? message;
        } catch {
          /* not JSON: keep the text */
        }
        resolve({ atMs, latencyMs: Date.now() - atMs, status, mutated, message });
      };
      const req = request(
        {
          ...base,
          host: server.hostname,
          port: server.port,
          path,
          method: 'PATCH',
          headers: { 'content-type': 'application/apply-patch+yaml', accept: 'application/json' },
          agent: false,
          timeout: 30_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => done(res.statusCode ?? 0, text));
        },
      );
      req.on('timeout', () => req.destroy(new Error('client timeout after 30 s')));
      req.on('error', (e) => done(0, e.message));
      req.end(body);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Summary of the answers sent at or after sinceMs (default: all). */
  summary(sinceMs = 0, untilMs = Infinity): LoadSummary {
    const r = this.results.filter((x) => x.atMs >= sinceMs && x.atMs <= untilMs);
    const failed = r.filter((x) => x.status < 200 || x.status >= 300);
    const byGovernor = failed.filter((x) => /governor|webhook/i.test(x.message));
    const unmutated = r.filter((x) => x.status >= 200 && x.status < 300 && !x.mutated);
    const lat = r.map((x) => x.latencyMs).sort((a, b) => a - b);
    return {
      sent: r.length,
      failed: failed.length,
      failedByGovernor: byGovernor.length,
      unmutated: unmutated.length,
      p50Ms: quantile(lat, 0.5),
      p99Ms: quantile(lat, 0.99),
      maxMs: lat.at(-1) ?? 0,
      examples: [...failed, ...unmutated].slice(0, 5).map((x) => `${x.status} after ${x.latencyMs} ms: ${x.message}`),
    };
  }
}

/** One histogram or counter family of the API server's /metrics, for our webhook names only. */
export interface WebhookMetrics {
  /** Cumulative bucket counts by upper bound (summed over operation, type, rejected). */
  readonly buckets: ReadonlyMap<number, number>;
  readonly count: number;
  /** apiserver_admission_webhook_rejection_count by error_type (calling_webhook_error, no_error, …). */
  readonly rejections: Readonly<Record<string, number>>;
}

const labelsOf = (s: string) => Object.fromEntries([...s.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));

/** Reads the API server's webhook histogram and rejection counters for the named webhooks. */
export async function webhookMetrics(cluster: LocalCluster, webhooks: readonly string[]): Promise<WebhookMetrics> {
  const r = await cluster.kubectl(['get', '--raw', '/metrics'], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`kubectl get --raw /metrics failed: ${r.stderr}`);
  const buckets = new Map<number, number>();
  let count = 0;
  const rejections: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^(apiserver_admission_webhook_admission_duration_seconds_bucket|apiserver_admission_webhook_admission_duration_seconds_count|apiserver_admission_webhook_rejection_count)\{([^}]*)\}\s+(\S+)$/.exec(line);
    if (!m) continue;
    const l = labelsOf(m[2]!);
    if (!webhooks.includes(l.name ?? '')) continue;
    const v = Number(m[3]);
    if (m[1]!.endsWith('_bucket')) {
      const le = l.le === '+Inf' ? Infinity : Number(l.le);
      buckets.set(le, (buckets.get(le) ?? 0) + v);
    } else if (m[1]!.endsWith('_count')) count += v;
    else rejections[l.error_type ?? '?'] = (rejections[l.error_type ?? '?'] ?? 0) + v;
  }
  return { buckets, count, rejections };
}

/** after − before, and the 0.99 quantile as the upper bound of the bucket that reaches it (seconds). */
export function webhookDelta(before: WebhookMetrics, after: WebhookMetrics): { calls: number; p99UpperBoundS: number; rejections: Record<string, number> } {
  const calls = after.count - before.count;
  let p99 = 0;
  const les = [...after.buckets.keys()].sort((a, b) => a - b);
  for (const le of les) {
    if ((after.buckets.get(le) ?? 0) - (before.buckets.get(le) ?? 0) >= 0.99 * calls) {
      p99 = le;
      break;
    }
  }
  const rejections: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.rejections)) {
    const d = v - (before.rejections[k] ?? 0);
    if (d) rejections[k] = d;
  }
  return { calls, p99UpperBoundS: calls ? p99 : 0, rejections };
}
