// The production provider: desired-replicas for each ScalingPolicy, selected by governor.io/policy=<name> in its namespace.
import { matches, pinnedValue, type Labels, type Requirement } from '../common/labels.js';
import { formatQuantity } from '../common/quantity.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { PolicyStore } from '../policy/store.js';
import type { ScalingPolicy } from '../policy/types.js';
import { DESIRED_REPLICAS_METRIC, POLICY_LABEL, TARGET_KIND_LABEL, TARGET_NAME_LABEL } from '../scaling/contract.js';
import type { DecisionService } from './decisions.js';
import type { Decision } from '../scaling/planner.js';
import { policyId } from './decisions.js';
import { loadSourceFailing, MetricNotFoundError, NoMatchingPolicyError, ValueUnavailableError } from './errors.js';
import { metaTime, type ExternalMetricInfo, type ExternalMetricValue, type ExternalMetricsProvider } from './provider.js';

/** The labels a policy is selected by, also returned as metricLabels. */
export function policyLabels(p: ScalingPolicy): Labels {
  return { [POLICY_LABEL]: p.name, [TARGET_KIND_LABEL]: p.target.kind, [TARGET_NAME_LABEL]: p.target.name };
}

interface Indexed {
  readonly policy: ScalingPolicy;
  readonly labels: Labels;
  /** The last answer built for this policy alone, and the decision it came from: the same for the whole interval. */
  answer?: { readonly decision: Decision; readonly items: readonly ExternalMetricValue[] };
}

/** The item for one policy's decision; throws ValueUnavailableError when the decision has no value. */
function item(c: Indexed, d: Decision): ExternalMetricValue {
  if (d.replicas === undefined) {
    throw new ValueUnavailableError(loadSourceFailing(c.policy.load.type, policyId(c.policy), d.failure), `no desired-replicas value for ScalingPolicy ${policyId(c.policy)}: ${d.reason}`);
  }
  return Object.freeze({
    metricName: DESIRED_REPLICAS_METRIC,
    metricLabels: c.labels,
    timestamp: metaTime(d.atMs),
    window: Math.round(c.policy.intervalMs / 1000),
    value: formatQuantity(d.replicas),
  });
}

export class PolicyMetricsProvider implements ExternalMetricsProvider {
  private byNamespace = new Map<string, Indexed[]>();
  /** namespace/name → policy: the HPA's selector pins governor.io/policy, so a request looks at one policy, not all. */
  private byName = new Map<string, Indexed>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: PolicyStore,
    private readonly decisions: DecisionService,
    private readonly onReindex?: (set: PolicySet) => void,
  ) {
    this.index(store.current());
    this.unsubscribe = store.onChange((set) => this.index(set));
  }

  /** Policies are indexed by namespace once per reload; requests only look them up. */
  private index(set: PolicySet) {
    const m = new Map<string, Indexed[]>();
    const byName = new Map<string, Indexed>();
    for (const p of set.scaling) {
      const list = m.get(p.namespace) ?? [];
      const entry = { policy: p, labels: policyLabels(p) };
      list.push(entry);
      m.set(p.namespace, list);
      byName.set(`${p.namespace}/${p.name}`, entry);
    }
    this.byNamespace = m;
    this.byName = byName;
    this.decisions.retain(new Set(set.scaling.map(policyId)));
    this.onReindex?.(set);
  }

  listMetrics(): readonly ExternalMetricInfo[] {
    return [{ metric: DESIRED_REPLICAS_METRIC }];
  }

  async getValues(namespace: string, metricName: string, selector: readonly Requirement[], selectorText: string): Promise<readonly ExternalMetricValue[]> {
    if (metricName !== DESIRED_REPLICAS_METRIC) throw new MetricNotFoundError(metricName, [DESIRED_REPLICAS_METRIC]);
    const pinned = pinnedValue(selector, POLICY_LABEL);
    const one = pinned === undefined ? undefined : this.byName.get(`${namespace}/${pinned}`);
    const selected = pinned === undefined ? (this.byNamespace.get(namespace) ?? []).filter((c) => matches(selector, c.labels)) : one && matches(selector, one.labels) ? [one] : [];
    if (selected.length === 0) throw new NoMatchingPolicyError(namespace, selectorText, (this.byNamespace.get(namespace) ?? []).map((c) => c.policy.name));
    if (selected.length === 1) {
      const c = selected[0]!;
      const d = await this.decisions.decide(c.policy);
      if (c.answer?.decision === d) return c.answer.items;
      const items = Object.freeze([item(c, d)]);
      c.answer = { decision: d, items };
      return items;
    }
    const decisions = await Promise.all(selected.map((c) => this.decisions.decide(c.policy)));
    return selected.map((c, i) => item(c, decisions[i]!));
  }

  /** Evaluates every policy once (at start), so a missing source shows up in the log before the first HPA poll. */
  async warmUp(): Promise<void> {
    const all = [...this.byNamespace.values()].flat();
    await Promise.all(all.map((c) => this.decisions.decide(c.policy).catch(() => undefined)));
  }

  close(): void {
    this.unsubscribe();
  }
}
