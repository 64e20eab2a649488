// desired-replicas for MigrationPolicies: one value per role (governor.io/role=source|target), from the migration model
// with its state on the cluster; composed with the ScalingPolicy provider behind one ExternalMetricsProvider.
import { matches, type Labels, type Requirement } from '../common/labels.js';
import { formatQuantity } from '../common/quantity.js';
import { MigrationStateError, WorkloadApiError, WorkloadNotFoundError, type MigrationStateCache } from '../kube/migration-state.js';
import { ReadyUnsupportedError, type ScaleReader } from '../kube/scale.js';
import type { Logger } from '../observability/log.js';
import type { GovernorMetrics } from '../observability/metrics.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { PolicyStore } from '../policy/store.js';
import type { MigrationPolicy } from '../policy/types.js';
import { DESIRED_REPLICAS_METRIC, METRIC_ROLE_LABEL, POLICY_LABEL, TARGET_KIND_LABEL, TARGET_NAME_LABEL, type WorkloadRole } from '../scaling/contract.js';
import { evaluateMigration, MigrationStartError, publishedReplicas, type MigrationDecision, type MigrationState, type MigrationStateStore, type PublishedReplicas } from '../scaling/migration.js';
import { bucketOf } from '../scaling/planner.js';
import type { LoadCache } from '../sources/cache.js';
import type { DecisionService } from './decisions.js';
import { AdapterError, adapterError, MetricNotFoundError, noMatchMessage, NoMatchingPolicyError, ValueUnavailableError, type NoMatchHint } from './errors.js';
import { metaTime, type ExternalMetricInfo, type ExternalMetricValue, type ExternalMetricsProvider } from './provider.js';

export const migrationId = (p: Pick<MigrationPolicy, 'namespace' | 'name'>) => `${p.namespace}/${p.name}`;
/** Load-cache key of a migration (kept apart from ScalingPolicy keys, which are namespace/name). */
export const migrationCacheKey = (p: Pick<MigrationPolicy, 'namespace' | 'name'>) => `migration:${p.namespace}/${p.name}`;

/** The labels each role of a migration is selected by, also returned as metricLabels. */
export function migrationLabels(p: MigrationPolicy, role: WorkloadRole): Labels {
  const w = role === 'source' ? p.source : p.target;
  return { [POLICY_LABEL]: p.name, [METRIC_ROLE_LABEL]: role, [TARGET_KIND_LABEL]: w.kind, [TARGET_NAME_LABEL]: w.name };
}

export interface MigrationProviderOptions {
  readonly store: PolicyStore;
  readonly cache: LoadCache;
  /** Where the state lives (the source workload's annotation; in-memory only without a cluster). */
  readonly stateStore: MigrationStateStore;
  /** Receives every state computed, for the webhook's activeMigrationSource. */
  readonly states?: MigrationStateCache;
  /** The ScalingPolicy decisions, for capacity: {scalingPolicy}. */
  readonly decisions?: DecisionService;
  /** Live replicas: the source's as R′(0) when spec.base is not set, and both sides' for make-before-break. */
  readonly scale?: ScaleReader;
  readonly now?: () => number;
  readonly log: Logger;
  readonly metrics?: GovernorMetrics;
}

interface Entry {
  readonly policy: MigrationPolicy;
  readonly labels: Record<WorkloadRole, Labels>;
}

export class MigrationMetricsProvider implements ExternalMetricsProvider {
  private byNamespace = new Map<string, Entry[]>();
  private scalingByName = new Map<string, PolicySet['scaling'][number]>();
  private readonly inflight = new Map<string, { bucket: number; policy: MigrationPolicy; promise: Promise<MigrationDecision> }>();
  private readonly lastReason = new Map<string, string>();
  private readonly unsubscribe: () => void;
  private readonly now: () => number;

  constructor(private readonly o: MigrationProviderOptions) {
    this.now = o.now ?? Date.now;
    this.index(o.store.current());
    this.unsubscribe = o.store.onChange((set) => this.index(set));
  }

  private index(set: PolicySet): void {
    const m = new Map<string, Entry[]>();
    for (const p of set.migration) {
      const list = m.get(p.namespace) ?? [];
      list.push({ policy: p, labels: { source: migrationLabels(p, 'source'), target: migrationLabels(p, 'target') } });
      m.set(p.namespace, list);
    }
    this.byNamespace = m;
    this.scalingByName = new Map(set.scaling.map((s) => [`${s.namespace}/${s.name}`, s]));
    const ids = new Set(set.migration.map(migrationId));
    for (const k of this.inflight.keys()) if (!ids.has(k)) this.inflight.delete(k);
    for (const k of this.lastReason.keys()) {
      if (!ids.has(k)) {
        this.lastReason.delete(k);
        for (const role of ['source', 'target']) this.o.metrics?.decisionReplicas.remove({ policy: k, role });
        this.o.metrics?.decisionLoad.remove({ policy: k });
      }
    }
  }

  /** Cache keys of the migrations in a set (so the composition root can keep them when it prunes the load cache). */
  static cacheKeys(set: PolicySet): string[] {
    return set.migration.map(migrationCacheKey);
  }

  /** Migrations known in a namespace (for the combined not-found message). */
  names(namespace: string): string[] {
    return (this.byNamespace.get(namespace) ?? []).map((e) => e.policy.name);
  }

  listMetrics(): readonly ExternalMetricInfo[] {
    return [{ metric: DESIRED_REPLICAS_METRIC }];
  }

  async getValues(namespace: string, metricName: string, selector: readonly Requirement[], selectorText: string): Promise<ExternalMetricValue[]> {
    if (metricName !== DESIRED_REPLICAS_METRIC) throw new MetricNotFoundError(metricName, [DESIRED_REPLICAS_METRIC]);
    const entries = this.byNamespace.get(namespace) ?? [];
    const selected: { entry: Entry; role: WorkloadRole }[] = [];
    for (const entry of entries) for (const role of ['source', 'target'] as const) if (matches(selector, entry.labels[role])) selected.push({ entry, role });
    if (!selected.length) throw new NoMatchingMigrationError(namespace, selectorText, entries.map((e) => e.policy.name));
    const decisions = await Promise.all(selected.map((s) => this.decide(s.entry.policy)));
    const values = await Promise.all(
      selected.map(async (s, i) => {
        const d = decisions[i]!;
        if (!d.published) throw new ValueUnavailableError(`no desired-replicas value for MigrationPolicy ${migrationId(s.entry.policy)} (${s.role}): ${d.reason}`);
        const pub = d.state ? await publishedWithReadiness(s.entry.policy, s.role, d.state, d.published, this.o.scale) : d.published;
        return this.makeBeforeBreak(s.entry.policy, s.role, pub);
      }),
    );
    return selected.map((s, i) => {
      const d = decisions[i]!;
      const p = s.entry.policy;
      return {
        metricName: DESIRED_REPLICAS_METRIC,
        metricLabels: s.entry.labels[s.role],
        timestamp: metaTime(d.state?.lastStepAtMs ?? this.now()),
        window: Math.round(p.intervalMs / 1000),
        value: formatQuantity(values[i]!),
      };
    });
  }

  /**
   * The two HPAs sync independently: when a step lowers one role and raises the other, whichever HPA syncs first
   * acts alone for up to a sync period, and if that is the shrinking side, source + target drops below the capacity
   * (seen on a real control plane, test/e2e). So a role never publishes less than the capacity minus the other
   * workload's live replicas: it shrinks only once the other side has grown. Read per poll, not per interval, so it
   * follows within one sync; without a scale reader (or if the read fails) the model's value is published as is.
   */
  private async makeBeforeBreak(p: MigrationPolicy, role: WorkloadRole, published: PublishedReplicas): Promise<number> {
    const value = published[role];
    if (!this.o.scale) return value;
    const other = role === 'source' ? p.target : p.source;
    let live: number;
    try {
      live = (await this.o.scale.read(p.namespace, other)).specReplicas;
    } catch {
      return value;
    }
    const max = role === 'target' ? (p.target.maxReplicas ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
    return Math.max(value, Math.min(max, published.capacity - live));
  }

  /** One evaluation per migration per interval, shared by the source's and the target's HPA polls. */
  decide(policy: MigrationPolicy): Promise<MigrationDecision> {
    const id = migrationId(policy);
    const bucket = bucketOf(this.now(), policy.intervalMs);
    const cur = this.inflight.get(id);
    if (cur && cur.bucket === bucket && cur.policy === policy) return cur.promise;
    const promise = this.evaluate(policy).catch((e: unknown) => {
      // A failed evaluation (API down) is retried by the next poll, not cached for the interval.
      if (this.inflight.get(id)?.promise === promise) this.inflight.delete(id);
      // Only the known failures of the state on the cluster are a 503; anything else is a bug: a 500, logged with its stack.
      throw e instanceof AdapterError ? e : isStateFailure(e) ? new ValueUnavailableError(`MigrationPolicy ${id}: ${e.message}`, String((e.cause as Error)?.message ?? e.message)) : e;
    });
    this.inflight.set(id, { bucket, policy, promise });
    return promise;
  }

  private async evaluate(p: MigrationPolicy): Promise<MigrationDecision> {
    const id = migrationId(p);
    const nowMs = this.now();
    const [sample, capacity, live, targetReady] = await Promise.all([this.o.cache.get(migrationCacheKey(p), p.load, p.intervalMs), this.capacity(p), this.liveSource(p), this.targetReady(p)]);
    let load: number | undefined;
    if (sample.ok && nowMs - sample.atMs <= p.staleAfterMs) load = sample.value;
    const d = await evaluateMigration(p, this.o.stateStore, {
      nowMs,
      ...(load !== undefined ? { load } : {}),
      ...(capacity !== undefined ? { capacity } : {}),
      ...(live !== undefined ? { liveSourceReplicas: live } : {}),
      ...(targetReady !== undefined ? { targetReady } : {}),
    });
    if (d.state) this.o.states?.offer(p, d.state);
    const m = this.o.metrics;
    if (m && d.published) {
      m.decisionReplicas.set({ policy: id, role: 'source' }, d.published.source);
      m.decisionReplicas.set({ policy: id, role: 'target' }, d.published.target);
    }
    if (m && load !== undefined) m.decisionLoad.set({ policy: id }, load);
    const reason = `${d.phase}: ${d.reason}${load === undefined ? ` (load unavailable: ${sample.ok ? 'stale' : sample.error})` : ''}`;
    if (this.lastReason.get(id) !== reason) {
      this.lastReason.set(id, reason);
      const fields = { policy: id, phase: d.phase, source: d.published?.source, target: d.published?.target, sourceExact: d.state?.sourceExact, load, capacity };
      if (load === undefined) this.o.log.warn(fields, `migration: ${reason}`);
      else this.o.log.info(fields, `migration: ${reason}`);
    }
    return d;
  }

  private async capacity(p: MigrationPolicy): Promise<number | undefined> {
    if (!p.capacity) return undefined;
    if ('replicas' in p.capacity) return p.capacity.replicas;
    const s = this.scalingByName.get(`${p.namespace}/${p.capacity.scalingPolicy}`);
    if (!s || !this.o.decisions) return undefined;
    try {
      return (await this.o.decisions.decide(s)).replicas;
    } catch {
      return undefined; // the last known capacity stays in force (stepMigration)
    }
  }

  /** The target's Ready pods, which a drained migration waits for before Completed; null when the read failed. */
  private async targetReady(p: MigrationPolicy): Promise<number | null | undefined> {
    if (!this.o.scale?.readReady) return undefined;
    try {
      return await this.o.scale.readReady(p.namespace, p.target);
    } catch (e) {
      return e instanceof ReadyUnsupportedError ? undefined : null;
    }
  }

  private async liveSource(p: MigrationPolicy): Promise<number | undefined> {
    if (p.base !== undefined || !this.o.scale) return undefined;
    try {
      return (await this.o.scale.read(p.namespace, p.source)).specReplicas;
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.unsubscribe();
  }
}

/** The ways reading or starting a migration's state fails that are no bug: the workload, its annotation or the API server. */
function isStateFailure(e: unknown): e is Error {
  return e instanceof MigrationStateError || e instanceof WorkloadNotFoundError || e instanceof WorkloadApiError || e instanceof MigrationStartError;
}

/**
 * The source's value with the target's Ready pods taken into account (publishedReplicas, targetReady): the source drains
 * only as the new pods become Ready. Read per poll so the source follows within one HPA sync; if the Ready count cannot
 * be read the model's value stands (make-before-break on spec.replicas still applies).
 */
async function publishedWithReadiness(
  p: MigrationPolicy,
  role: WorkloadRole,
  state: MigrationState,
  published: PublishedReplicas,
  scale: ScaleReader | undefined,
): Promise<PublishedReplicas> {
  if (role !== 'source' || !scale?.readReady) return published;
  let ready: number;
  try {
    ready = await scale.readReady(p.namespace, p.target);
  } catch {
    return published;
  }
  return publishedReplicas(p, state, published.capacity, ready);
}

/** How a migration's role is selected, in "no match" messages. */
const MIGRATIONS = (names: readonly string[]): NoMatchHint => ({ what: 'migrations', names, select: 'select one with governor.io/policy=<name>,governor.io/role=source|target' });

/** 404: no MigrationPolicy role in the namespace matches the selector. */
export class NoMatchingMigrationError extends adapterError('NoMatchingMigrationError', 404, 'NotFound') {
  constructor(namespace: string, selector: string, known: readonly string[]) {
    super(noMatchMessage('MigrationPolicy', namespace, selector, MIGRATIONS(known)));
  }
}

/** 404 when neither kind matches. */
export class NoMatchingPolicyOrMigrationError extends adapterError('NoMatchingPolicyOrMigrationError', 404, 'NotFound') {
  constructor(namespace: string, selector: string, migrations: readonly string[]) {
    super(noMatchMessage('ScalingPolicy or MigrationPolicy', namespace, selector, MIGRATIONS(migrations)));
  }
}

/**
 * The ScalingPolicy provider and the MigrationPolicy provider behind one interface: items from both are returned
 * (a selector normally matches one policy); when neither matches, one 404 says so for both kinds.
 */
export class CompositeMetricsProvider implements ExternalMetricsProvider {
  constructor(
    private readonly scaling: ExternalMetricsProvider,
    private readonly migrations: MigrationMetricsProvider,
  ) {}

  listMetrics(): readonly ExternalMetricInfo[] {
    const seen = new Map<string, ExternalMetricInfo>();
    for (const m of [...this.scaling.listMetrics(), ...this.migrations.listMetrics()]) seen.set(m.metric, m);
    return [...seen.values()];
  }

  async getValues(namespace: string, metricName: string, selector: readonly Requirement[], selectorText: string): Promise<readonly ExternalMetricValue[]> {
    // Without MigrationPolicies in the namespace the migration provider can only answer "no match"; skipping it saves
    // building that error (its stack trace) on every value request, and the scaling provider's items pass as they are
    // (the same array for the same answer, which the HTTP layer writes once).
    if (!this.migrations.names(namespace).length) {
      try {
        return await this.scaling.getValues(namespace, metricName, selector, selectorText);
      } catch (e) {
        if (e instanceof NoMatchingPolicyError) throw new NoMatchingPolicyOrMigrationError(namespace, selectorText, this.migrations.names(namespace));
        throw e;
      }
    }
    const results = await Promise.allSettled([
      this.scaling.getValues(namespace, metricName, selector, selectorText),
      ...(this.migrations.names(namespace).length ? [this.migrations.getValues(namespace, metricName, selector, selectorText)] : []),
    ]);
    const items: ExternalMetricValue[] = [];
    let notFound = 0;
    for (const r of results) {
      if (r.status === 'fulfilled') items.push(...r.value);
      else if (r.reason instanceof NoMatchingPolicyError || r.reason instanceof NoMatchingMigrationError) notFound++;
      else throw r.reason;
    }
    if (notFound === results.length) {
      throw new NoMatchingPolicyOrMigrationError(namespace, selectorText, this.migrations.names(namespace));
    }
    return items;
  }
}
