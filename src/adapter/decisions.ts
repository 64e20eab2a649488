// Runs the planner for each ScalingPolicy once per interval: load from the cache, live replicas from the cluster, memory of the last decision.
import type { Logger } from '../observability/log.js';
import type { GovernorMetrics } from '../observability/metrics.js';
import type { ScalingPolicy } from '../policy/types.js';
import type { ScaleReader } from '../kube/scale.js';
import type { LoadCache } from '../sources/cache.js';
import { bucketOf, plan, type Decision } from '../scaling/planner.js';
import type { PolicyObservations } from '../status/observations.js';

const REGIMES = ['below', 'proportional', 'overload'] as const;

export const policyId = (p: Pick<ScalingPolicy, 'namespace' | 'name'>) => `${p.namespace}/${p.name}`;

interface State {
  policy: ScalingPolicy;
  previous?: Decision;
  inflight?: { bucket: number; promise: Promise<Decision> };
  lastScaleError?: string;
}

export interface DecisionServiceOptions {
  readonly cache: LoadCache;
  /** Absent without a Kubernetes API: overload then steps from this process's last decision. */
  readonly scale?: ScaleReader;
  readonly now?: () => number;
  readonly log: Logger;
  readonly metrics?: GovernorMetrics;
  /** Receives every decision, for policy status (src/status). */
  readonly observations?: PolicyObservations;
}

export class DecisionService {
  private readonly states = new Map<string, State>();
  private readonly now: () => number;

  constructor(private readonly o: DecisionServiceOptions) {
    this.now = o.now ?? Date.now;
  }

  /**
   * The decision for this interval. One evaluation per policy per interval: concurrent and later callers in the same
   * interval share it, so neither the source nor the API server sees more than one request per interval.
   */
  decide(policy: ScalingPolicy): Promise<Decision> {
    const id = policyId(policy);
    let s = this.states.get(id);
    if (!s) this.states.set(id, (s = { policy }));
    if (s.policy !== policy) {
      // A reloaded policy is evaluated afresh at once; the last decision stays as R_prev and for fallbacks.
      s.policy = policy;
      s.inflight = undefined;
      if (s.previous) s.previous = { ...s.previous, bucket: s.previous.bucket - 1 };
    }
    const bucket = bucketOf(this.now(), policy.intervalMs);
    if (s.inflight && s.inflight.bucket === bucket) return s.inflight.promise;
    const state = s;
    const promise = this.evaluate(state, policy);
    state.inflight = { bucket, promise };
    return promise;
  }

  private async evaluate(s: State, policy: ScalingPolicy): Promise<Decision> {
    const id = policyId(policy);
    const [sample, live] = await Promise.all([this.o.cache.get(id, policy.load, policy.intervalMs), this.liveReplicas(s, policy)]);
    const prev = s.previous;
    const d = plan(policy, { nowMs: this.now(), sample, ...(live !== undefined ? { liveReplicas: live } : {}) }, prev);
    if (s.policy === policy) s.previous = d;
    this.report(id, policy, d, prev);
    return d;
  }

  private async liveReplicas(s: State, policy: ScalingPolicy): Promise<number | undefined> {
    if (!this.o.scale) return undefined;
    try {
      const live = await this.o.scale.read(policy.namespace, policy.target);
      if (s.lastScaleError) this.o.log.info({ policy: policyId(policy) }, 'scale subresource readable again');
      s.lastScaleError = undefined;
      return live.specReplicas;
    } catch (e) {
      const msg = (e as Error).message;
      // Logged when the error changes, not on every interval.
      if (msg !== s.lastScaleError) this.o.log.warn({ policy: policyId(policy), err: msg }, 'cannot read the target replica count; overload steps from the last decision');
      s.lastScaleError = msg;
      return undefined;
    }
  }

  private report(id: string, policy: ScalingPolicy, d: Decision, prev: Decision | undefined) {
    const m = this.o.metrics;
    if (m) {
      if (d.replicas !== undefined) m.decisionReplicas.set({ policy: id, role: 'scale' }, d.replicas);
      else m.decisionReplicas.remove({ policy: id, role: 'scale' });
      if (d.load !== undefined) m.decisionLoad.set({ policy: id }, d.load);
      const age = this.o.cache.ageMs(id);
      if (age !== undefined) m.valueAge.set({ policy: id }, age / 1000);
      if (d.regime) for (const r of REGIMES) m.decisionRegime.set({ policy: id, regime: r }, r === d.regime ? 1 : 0);
      m.sourceConsecutiveFailures.set({ policy: id }, d.failures);
    }
    this.o.observations?.recordDecision(id, d, policy);
    if (prev === d) return;
    const fields = { policy: id, replicas: d.replicas, basis: d.basis, regime: d.regime, load: d.load, failures: d.failures, stale: d.stale, bucket: d.bucket };
    if (d.basis === 'load') {
      if (!prev || prev.replicas !== d.replicas || prev.basis !== 'load') this.o.log.info(fields, `decision: ${d.reason}`);
      else this.o.log.debug(fields, `decision: ${d.reason}`);
    } else if (prev && prev.basis === d.basis && prev.replicas === d.replicas) {
      // Still failing the same way: once per interval per policy is a flood during an outage (10,000 lines per interval
      // with 10,000 policies on one source). governor_source_errors_total and the value age keep counting.
      this.o.log.debug(fields, d.basis === 'unavailable' ? `still no value to publish: ${d.reason}` : `load source still failing: ${d.reason}`);
    } else if (d.basis === 'unavailable') {
      // Error where a workload's HPA waits for the value; without a Kubernetes API (a local run: `npm start`, sample
      // policies whose sources are not there) nothing scales on it, so it is a warning.
      const level = this.o.scale ? 'error' : 'warn';
      this.o.log[level]({ ...fields, target: `${policy.target.kind}/${policy.target.name}` }, `no value to publish: ${d.reason}`);
    } else {
      this.o.log.warn(fields, `load source failing: ${d.reason}`);
    }
  }

  /** The last decision made for a policy, if any (for status output and tests). */
  last(id: string): Decision | undefined {
    return this.states.get(id)?.previous;
  }

  /** Forgets policies that are gone (after a reload). */
  retain(ids: ReadonlySet<string>): void {
    for (const k of this.states.keys()) {
      if (!ids.has(k)) {
        this.states.delete(k);
        this.o.metrics?.decisionReplicas.remove({ policy: k, role: 'scale' });
        this.o.metrics?.decisionLoad.remove({ policy: k });
        this.o.metrics?.valueAge.remove({ policy: k });
        for (const r of REGIMES) this.o.metrics?.decisionRegime.remove({ policy: k, regime: r });
        this.o.metrics?.sourceConsecutiveFailures.remove({ policy: k });
        this.o.observations?.forget(k);
      }
    }
  }
}
