// Prometheus metrics of the servers themselves (prom-client), on one registry served on the plain-HTTP metrics port.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type LabelValues, type Metric } from 'prom-client';
import { buildInfo } from './version.js';

/**
 * One entry per label set, found through nested Maps (one level per label, in `labelNames` order): no string is
 * built or hashed per lookup. Cardinality is the metric's own.
 */
class LabelTree<T extends string, E> {
  private readonly root = new Map<string, unknown>();
  readonly entries: E[] = [];

  constructor(
    readonly labelNames: readonly T[],
    private readonly create: (labels: LabelValues<T>) => E,
  ) {}

  /** `values` in the order of `labelNames`. */
  get(values: readonly string[]): E {
    const last = this.labelNames.length - 1;
    return this.leaf(this.node(values, last), values[last]!, values);
  }

  /** The map below the first `depth` of `values` (made as needed). */
  node(values: readonly string[], depth: number): Map<string, unknown> {
    let node = this.root;
    for (let i = 0; i < depth; i++) {
      let next = node.get(values[i]!) as Map<string, unknown> | undefined;
      if (!next) node.set(values[i]!, (next = new Map()));
      node = next;
    }
    return node;
  }

  /** The entry under `node` (the map below all labels but the last) for the last label's value `last`; `values`: every label's, read only to create it. */
  leaf(node: Map<string, unknown>, last: string, values: readonly string[]): E {
    let e = node.get(last) as E | undefined;
    if (e === undefined) {
      e = this.create(Object.fromEntries(this.labelNames.map((name, i) => [name, i < values.length ? values[i]! : last])) as LabelValues<T>);
      this.entries.push(e);
      node.set(last, e);
    }
    return e;
  }
}

/** The counts below all labels but the last, found once (CounterBuffer.under) for several increments. */
export interface CounterNode {
  readonly map: Map<string, unknown>;
  /** The values of every label but the last. */
  readonly prefix: readonly string[];
}

/**
 * Increments of a counter on a hot path, added to the prom-client counter when it is collected (each scrape, and
 * `counter.get()`). prom-client hashes and validates the labels on every `inc`, and a review counts once per matched
 * policy; its public `inc(labels, n)` adds the accumulated counts in one call.
 */
export class CounterBuffer<T extends string> {
  private readonly tree: LabelTree<T, { readonly labels: LabelValues<T>; n: number }>;

  constructor(labelNames: readonly T[]) {
    this.tree = new LabelTree(labelNames, (labels) => ({ labels, n: 0 }));
  }

  /** `values` in the order of `labelNames`. */
  inc(values: readonly string[]): void {
    this.tree.get(values).n++;
  }

  /**
   * The counts below `prefix` (the values of every label but the last), for several `incUnder`: an admission review
   * counts once per matched policy, and every label but the policy's is usually the same for all of them.
   */
  under(prefix: readonly string[]): CounterNode {
    if (prefix.length !== this.tree.labelNames.length - 1) throw new Error(`CounterBuffer.under: ${this.tree.labelNames.length - 1} label values expected, got ${prefix.length}`);
    return { map: this.tree.node(prefix, prefix.length), prefix };
  }

  /** One more for the label set `node.prefix` + `last`. */
  incUnder(node: CounterNode, last: string): void {
    this.tree.leaf(node.map, last, node.prefix).n++;
  }

  /** Moves what accumulated into `counter` (its collect hook). */
  flush(counter: Counter<T>): void {
    for (const e of this.tree.entries) {
      if (e.n) counter.inc(e.labels, e.n);
      e.n = 0;
    }
  }
}

/**
 * A Prometheus histogram observed on a hot path (two per admission review): counts per label set and bucket, summed
 * only when scraped. prom-client's Histogram validates and hashes the labels on every observe and has no call to add
 * counts in bulk, so this is a metric of its own, registered like prom-client's: the registry reads `name`, `help`,
 * `type` and `get()`, which returns what Histogram#get returns (the public MetricObjectWithValues).
 */
/** One line of a histogram's exposition: a bucket (labels with `le`), the sum or the count. */
export interface HistogramValue {
  readonly labels: LabelValues<string>;
  readonly value: number;
  readonly metricName: string;
}

export class FastHistogram<T extends string> {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  private readonly bounds: readonly number[];
  private tree: LabelTree<T, { readonly labels: LabelValues<T>; readonly counts: number[]; sum: number; count: number }>;

  constructor(o: { readonly name: string; readonly help: string; readonly labelNames: readonly T[]; readonly buckets: readonly number[]; readonly registers: readonly Registry[] }) {
    this.name = o.name;
    this.help = o.help;
    this.bounds = o.buckets;
    this.tree = this.newTree(o.labelNames);
    for (const r of o.registers) r.registerMetric(this as unknown as Metric);
  }

  private newTree(labelNames: readonly T[]) {
    return new LabelTree(labelNames, (labels) => ({ labels, counts: new Array<number>(this.bounds.length).fill(0), sum: 0, count: 0 }));
  }

  /** `values` in the order of the label names; non-finite values are dropped (prom-client throws on them). */
  observe(values: readonly string[], v: number): void {
    if (!Number.isFinite(v)) return;
    const e = this.tree.get(values);
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    if (i < b.length) e.counts[i]!++; // above every bound: only in +Inf, which is the count
    e.sum += v;
    e.count++;
  }

  reset(): void {
    this.tree = this.newTree(this.tree.labelNames);
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: HistogramValue[] }> {
    const values: HistogramValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const e of this.tree.entries) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += e.counts[i]!;
        values.push({ labels: { le: this.bounds[i]!, ...e.labels }, value: acc, metricName: bucket });
      }
      values.push(
        { labels: { le: '+Inf', ...e.labels }, value: e.count, metricName: bucket },
        { labels: { ...e.labels }, value: e.sum, metricName: `${this.name}_sum` },
        { labels: { ...e.labels }, value: e.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export interface GovernorMetrics {
  readonly registry: Registry;
  /** Always 1; labels version, commit (empty when unknown), node: the build this process runs. */
  readonly buildInfo: Gauge<'version' | 'commit' | 'node'>;
  // adapter
  /** Label values server, route, code. */
  readonly httpRequestDuration: FastHistogram<'server' | 'route' | 'code'>;
  /** By source only: a histogram per policy would multiply the series by the policy count, and with them the memory and each scrape's event-loop stall. */
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
  readonly admissionDuration: FastHistogram<'webhook'>;
  readonly ruleViolations: Counter<'policy' | 'rule' | 'mode'>;
  /** The hot-path side of ruleViolations (policy, rule, mode), counted on every denial and warning. */
  readonly ruleViolationsBuffer: CounterBuffer<'policy' | 'rule' | 'mode'>;
  readonly exceptionsUsed: Counter<'policy' | 'rule' | 'via'>;
  /** Reviews cut off at their budget (--review-timeout) and answered per the unfinished policies' mode. */
  readonly reviewDeadlineExceeded: Counter<'webhook'>;
  /** Requests the server's budget shed (answered 503) to stay within its limits (src/server/budget.ts). */
  readonly requestsShed: Counter<'server' | 'reason'>;
  /** Events not written: rate-limited, not authenticated, or naming something the object does not carry (src/kube/events.ts). */
  readonly eventsSuppressed: Counter<'reason'>;
  // policies
  readonly policyReloads: Counter<'result'>;
  readonly policiesLoaded: Gauge<'kind'>;
  /** Invalid documents (and policies left out by cross-checks) per source and kind, as of each source's last read. */
  readonly policyLoadErrors: Gauge<'source' | 'kind'>;
  readonly policyLastLoadSuccess: Gauge<'source'>;
  // policy status (src/status): the same information as the governor.io status subresource, for file policies too
  readonly policyReady: Gauge<'kind' | 'policy'>;
  readonly decisionRegime: Gauge<'policy' | 'regime'>;
  readonly sourceConsecutiveFailures: Gauge<'policy'>;
  readonly migrationPhase: Gauge<'policy' | 'phase'>;
  readonly statusWrites: Counter<'result'>;
  readonly statusLeader: Gauge<string>;
  // KEDA external scaler (src/keda)
  readonly kedaScalerRequests: Counter<'method' | 'code'>;
  readonly kedaScalerStreams: Gauge<'method'>;
}

type AdmissionLabel = 'webhook' | 'operation' | 'kind' | 'result' | 'policy';

/**
 * prom-client's gauges that end in `_total`, which `promtool check metrics` rejects (only counters may). Each is the
 * sum of the gauge of the same name without `_total`, labelled by type (`sum(nodejs_active_handles)`), which stays.
 */
export const DROPPED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/**
 * The process and Node.js runtime metrics under the names every Prometheus client library uses (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, ...): no prefix, so the usual dashboards and alerts
 * find them. prom-client 15 has no exclude list; the gauges named in DROPPED_DEFAULT_METRICS are removed again.
 */
function newBuildInfo(registers: Registry[]): Gauge<'version' | 'commit' | 'node'> {
  const g = new Gauge({
    name: 'governor_build_info',
    help: 'A metric with a constant 1 labelled by the version, the commit (dist/build-info.json or GOVERNOR_COMMIT, empty when unknown) and the Node.js release of this build',
    labelNames: ['version', 'commit', 'node'],
    registers,
  });
  const b = buildInfo();
  g.set({ version: b.version, commit: b.commit ?? '', node: b.node }, 1);
  return g;
}

function registerDefaultMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): GovernorMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) registerDefaultMetrics(registry);
  const fast = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  const registers = [registry];
  const admissionLabels: AdmissionLabel[] = ['webhook', 'operation', 'kind', 'result', 'policy'];
  const admissionRequestsBuffer = new CounterBuffer<AdmissionLabel>(admissionLabels);
  const violationLabels = ['policy', 'rule', 'mode'] as const;
  const ruleViolationsBuffer = new CounterBuffer<(typeof violationLabels)[number]>(violationLabels);
  const reviewBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
  const counter = <T extends string>(name: string, help: string, labelNames: readonly T[] = []) => new Counter<T>({ name, help, labelNames, registers });
  const gauge = <T extends string>(name: string, help: string, labelNames: readonly T[] = []) => new Gauge<T>({ name, help, labelNames, registers });
  return {
    admissionRequestsBuffer,
    registry,
    buildInfo: newBuildInfo(registers),
    httpRequestDuration: new FastHistogram({
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
    sourceQueries: counter('governor_source_queries_total', 'Load queries sent to metric sources', ['source', 'policy']),
    sourceErrors: counter('governor_source_errors_total', 'Failed load queries by reason', ['source', 'policy', 'reason']),
    valueAge: gauge('governor_load_value_age_seconds', 'Age of the cached load value per policy', ['policy']),
    decisionReplicas: gauge('governor_decision_replicas', 'Replica count currently published per policy (role: scale, source, target)', ['policy', 'role']),
    decisionLoad: gauge('governor_decision_load', 'Load the current decision is based on', ['policy']),
    admissionRequests: new Counter({
      name: 'governor_admission_requests_total',
      help: 'Admission reviews by webhook, operation, kind, result and policy',
      labelNames: admissionLabels,
      registers,
      collect() {
        admissionRequestsBuffer.flush(this);
      },
    }),
    admissionDuration: new FastHistogram({
      name: 'governor_admission_review_duration_seconds',
      help: 'Time to evaluate one admission review',
      labelNames: ['webhook'],
      buckets: reviewBuckets,
      registers,
    }),
    ruleViolations: new Counter({
      name: 'governor_rule_violations_total',
      help: 'Rule violations by policy, rule and mode',
      labelNames: violationLabels,
      registers,
      collect() {
        ruleViolationsBuffer.flush(this);
      },
    }),
    ruleViolationsBuffer,
    exceptionsUsed: counter('governor_exceptions_used_total', 'Exceptions applied, by policy, rule and how (policy list or annotation)', ['policy', 'rule', 'via']),
    reviewDeadlineExceeded: counter('governor_review_deadline_exceeded_total', 'Admission reviews cut off at the review budget (validate: denied if an enforce policy was not evaluated; mutate: allowed without a patch)', ['webhook']),
    requestsShed: counter('governor_http_requests_shed_total', 'Requests answered 503 to keep request bodies in flight within the budget, by server and reason (bytes, requests)', ['server', 'reason']),
    eventsSuppressed: counter('governor_events_suppressed_total', 'Kubernetes Events not written, by reason (subject: names the object does not carry; rate-limited; in-flight)', ['reason']),
    policyReloads: counter('governor_policy_reloads_total', 'Policy source reads by result (applied: every document in force as offered; partial: invalid ones held back)', ['result']),
    policiesLoaded: gauge('governor_policies_loaded', 'Policies in force by kind', ['kind']),
    policyLoadErrors: gauge('governor_policy_load_errors', 'Invalid policy documents by source and kind as of the last read (the last good version of each stays in force)', ['source', 'kind']),
    policyLastLoadSuccess: gauge('governor_policy_last_load_success_timestamp_seconds', 'When each policy source was last read with every document valid (Unix time)', ['source']),
    policyReady: gauge('governor_policy_ready', 'Per policy (namespace/name; the name for GovernancePolicy): 1 when in force, 0 when not (the Ready condition)', ['kind', 'policy']),
    decisionRegime: gauge('governor_decision_regime', 'Formula regime of the current decision per policy: 1 for the current regime, 0 for the others', ['policy', 'regime']),
    sourceConsecutiveFailures: gauge('governor_source_consecutive_failures', 'Consecutive failed load evaluations per policy (0: the source is healthy)', ['policy']),
    migrationPhase: gauge('governor_migration_phase', 'Phase of each MigrationPolicy: 1 for the current phase, 0 for the others', ['policy', 'phase']),
    statusWrites: counter('governor_policy_status_writes_total', 'Status subresource writes of governor.io objects by result (ok, error)', ['result']),
    statusLeader: gauge('governor_policy_status_leader', '1 while this replica holds the status Lease and writes policy status'),
    kedaScalerRequests: counter('governor_keda_scaler_requests_total', "Calls of the KEDA external scaler by method and gRPC status code name (streams count when they end)", ['method', 'code']),
    kedaScalerStreams: gauge('governor_keda_scaler_streams', 'Open KEDA scaler streams by method (StreamIsActive, StreamMetricSpec)', ['method']),
  };
}
