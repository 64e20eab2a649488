// Prometheus metrics of the servers themselves (prom-client), on one registry served on the plain-HTTP metrics port.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';

/**
 * Increments of a counter on a hot path, kept in nested Maps (one level per label, in `labelNames` order) and added
 * to the prom-client counter when it is collected (each scrape, and `counter.get()`). prom-client hashes and
 * validates the labels on every `inc` (about 2 µs with five labels), and a review counts once per matched policy:
 * that was a tenth of a review's cost (BENCHMARKS.md). Cardinality is the counter's own: one entry per label set.
 */
export class CounterBuffer<T extends string> {
  private readonly root = new Map<string, unknown>();
  private readonly entries: { readonly labels: LabelValues<T>; n: number }[] = [];

  constructor(private readonly labelNames: readonly T[]) {}

  /** `values` in the order of `labelNames`. */
  inc(values: readonly string[]): void {
    let node = this.root;
    const last = this.labelNames.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]!) as Map<string, unknown> | undefined;
      if (!next) node.set(values[i]!, (next = new Map()));
      node = next;
    }
    const e = node.get(values[last]!) as { n: number } | undefined;
    if (e) e.n++;
    else {
      const labels = Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!])) as LabelValues<T>;
      const entry = { labels, n: 1 };
      this.entries.push(entry);
      node.set(values[last]!, entry);
    }
  }

  /** Moves what accumulated into `counter` (its collect hook). */
  flush(counter: Counter<T>): void {
    for (const e of this.entries) {
      if (e.n) counter.inc(e.labels, e.n);
      e.n = 0;
    }
  }
}

export interface GovernorMetrics {
  readonly registry: Registry;
  // adapter
  readonly httpRequestDuration: Histogram<'server' | 'route' | 'code'>;
  /** By source only: a histogram per policy was 13 series each, 16 MB and a 0.6 s event-loop stall per scrape at 10,000 policies (BENCHMARKS.md). */
  readonly sourceQueryDuration: Histogram<'source'>;
  readonly sourceErrors: Counter<'source' | 'policy' | 'reason'>;
  readonly sourceQueries: Counter<'source' | 'policy'>;
  readonly valueAge: Gauge<'policy'>;
  readonly decisionReplicas: Gauge<'policy' | 'role'>;
  readonly decisionLoad: Gauge<'policy'>;
  // webhook
  readonly admissionRequests: Counter<AdmissionLabel>;
  /** The hot-path side of admissionRequests (see CounterBuffer). */
  readonly admissionRequestsBuffer: CounterBuffer<AdmissionLabel>;
  readonly admissionDuration: Histogram<'webhook'>;
  readonly ruleViolations: Counter<'policy' | 'rule' | 'mode'>;
  readonly exceptionsUsed: Counter<'policy' | 'rule' | 'via'>;
  // policies
  readonly policyReloads: Counter<'result'>;
  readonly policiesLoaded: Gauge<'kind'>;
}

type AdmissionLabel = 'webhook' | 'operation' | 'kind' | 'result' | 'policy';

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): GovernorMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'governor_' });
  const fast = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  const registers = [registry];
  const admissionLabels: AdmissionLabel[] = ['webhook', 'operation', 'kind', 'result', 'policy'];
  const admissionRequestsBuffer = new CounterBuffer<AdmissionLabel>(admissionLabels);
  return {
    admissionRequestsBuffer,
    registry,
    httpRequestDuration: new Histogram({
      name: 'governor_http_request_duration_seconds',
      help: 'HTTP request duration by server, route and status code',
      labelNames: ['server', 'route', 'code'],
      buckets: fast,
      registers,
    }),
    sourceQueryDuration: new Histogram({
      name: 'governor_source_query_duration_seconds',
      help: 'Duration of load queries to metric sources (per policy: governor_source_queries_total and governor_source_errors_total)',
      labelNames: ['source'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    sourceQueries: new Counter({ name: 'governor_source_queries_total', help: 'Load queries sent to metric sources', labelNames: ['source', 'policy'], registers }),
    sourceErrors: new Counter({ name: 'governor_source_errors_total', help: 'Failed load queries by reason', labelNames: ['source', 'policy', 'reason'], registers }),
    valueAge: new Gauge({ name: 'governor_load_value_age_seconds', help: 'Age of the cached load value per policy', labelNames: ['policy'], registers }),
    decisionReplicas: new Gauge({
      name: 'governor_decision_replicas',
      help: 'Replica count currently published per policy (role: scale, source, target)',
      labelNames: ['policy', 'role'],
      registers,
    }),
    decisionLoad: new Gauge({ name: 'governor_decision_load', help: 'Load the current decision is based on', labelNames: ['policy'], registers }),
    admissionRequests: new Counter({
      name: 'governor_admission_requests_total',
      help: 'Admission reviews by webhook, operation, kind, result and policy',
      labelNames: admissionLabels,
      registers,
      collect() {
        admissionRequestsBuffer.flush(this);
      },
    }),
    admissionDuration: new Histogram({
      name: 'governor_admission_review_duration_seconds',
      help: 'Time to evaluate one admission review',
      labelNames: ['webhook'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers,
    }),
    ruleViolations: new Counter({ name: 'governor_rule_violations_total', help: 'Rule violations by policy, rule and mode', labelNames: ['policy', 'rule', 'mode'], registers }),
    exceptionsUsed: new Counter({
      name: 'governor_exceptions_used_total',
      help: 'Exceptions applied, by policy, rule and how (policy list or annotation)',
      labelNames: ['policy', 'rule', 'via'],
      registers,
    }),
    policyReloads: new Counter({ name: 'governor_policy_reloads_total', help: 'Policy reloads by result (applied, rejected)', labelNames: ['result'], registers }),
    policiesLoaded: new Gauge({ name: 'governor_policies_loaded', help: 'Policies in force by kind', labelNames: ['kind'], registers }),
  };
}
