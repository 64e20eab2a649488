// KEDA's external scaler contract (externalscaler.proto) over the values the external metrics API serves: a ScaledObject
// trigger names a policy, and KEDA's HPA gets desired-replicas with target 1 (AverageValue), so it lands on the policy's
// R exactly as the native HPA of `governor hpa` does. Activity is R > 0, which lets KEDA take the workload to zero.
// No gRPC here: src/keda/server.ts binds these functions to the wire.
import type { Requirement } from '../common/labels.js';
import { tryParseQuantity, quantityToNumber } from '../common/quantity.js';
import type { ExternalMetricsProvider } from '../adapter/provider.js';
import { BadRequestError } from '../adapter/errors.js';
import { DESIRED_REPLICAS_METRIC, METRIC_ROLE_LABEL, POLICY_LABEL, type WorkloadRole } from '../scaling/contract.js';

/** The ScaledObjectRef message: the ScaledObject and its trigger's metadata. */
export interface ScaledObjectRef {
  readonly name: string;
  readonly namespace: string;
  readonly scalerMetadata: Readonly<Record<string, string>>;
}

/** The trigger metadata keys this scaler reads (the rest of the metadata is KEDA's: scalerAddress, enableTLS, ...). */
export const METADATA_POLICY = 'policy';
export const METADATA_ROLE = 'role';

/** Which policy (and migration role) a trigger asks about. */
export interface ScalerTarget {
  readonly namespace: string;
  readonly policy: string;
  readonly role?: WorkloadRole;
}

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Reads `policy: [<namespace>/]<name>` and `role: source|target` from the trigger. A ScaledObject reads the policies of
 * its own namespace only: naming another namespace is refused, as an HPA's external metric is also asked in its own.
 */
export function scalerTarget(ref: ScaledObjectRef): ScalerTarget {
  const meta = ref.scalerMetadata ?? {};
  const raw = meta[METADATA_POLICY];
  if (typeof raw !== 'string' || raw === '') {
    throw new BadRequestError(`trigger metadata "${METADATA_POLICY}" is required: the ScalingPolicy or MigrationPolicy to follow, as <name> or <namespace>/<name>`);
  }
  const parts = raw.split('/');
  if (parts.length > 2) throw new BadRequestError(`trigger metadata "${METADATA_POLICY}" must be <name> or <namespace>/<name>`);
  const name = parts.at(-1)!;
  const namespace = parts.length === 2 ? parts[0]! : ref.namespace;
  if (name.length > 63 || !DNS1123.test(name)) throw new BadRequestError(`trigger metadata "${METADATA_POLICY}": ${JSON.stringify(clip(name))} is not a policy name`);
  if (namespace.length > 63 || !DNS1123.test(namespace)) throw new BadRequestError(`trigger metadata "${METADATA_POLICY}": ${JSON.stringify(clip(namespace))} is not a namespace`);
  if (ref.namespace && namespace !== ref.namespace) {
    throw new BadRequestError(`trigger metadata "${METADATA_POLICY}" names namespace ${namespace}, but the ScaledObject is in ${ref.namespace}: a ScaledObject follows policies of its own namespace`);
  }
  const role = meta[METADATA_ROLE];
  if (role !== undefined && role !== '' && role !== 'source' && role !== 'target') {
    throw new BadRequestError(`trigger metadata "${METADATA_ROLE}" is source or target (a MigrationPolicy's side), got ${JSON.stringify(clip(role))}`);
  }
  return { namespace, policy: name, ...(role ? { role } : {}) };
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/** The selector an HPA made by `governor hpa` would send; without a role it selects only ScalingPolicies. */
export function targetSelector(t: ScalerTarget): { selector: Requirement[]; text: string } {
  const selector: Requirement[] = [{ key: POLICY_LABEL, operator: 'In', values: [t.policy] }];
  if (t.role) selector.push({ key: METRIC_ROLE_LABEL, operator: 'In', values: [t.role] });
  else selector.push({ key: METRIC_ROLE_LABEL, operator: 'DoesNotExist', values: [] });
  return { selector, text: `${POLICY_LABEL}=${t.policy},${t.role ? `${METRIC_ROLE_LABEL}=${t.role}` : `!${METRIC_ROLE_LABEL}`}` };
}

/** What KEDA needs of one trigger at one time. */
export interface ScalerReading {
  readonly replicas: number;
  readonly active: boolean;
  /** The policy's evaluation interval: a new value can only appear at the next one. */
  readonly intervalMs?: number;
}

/** The metric spec: one metric, target 1, so KEDA's HPA (AverageValue) computes ceil(R / 1) = R. */
export const METRIC_SPEC = { metricName: DESIRED_REPLICAS_METRIC, targetSize: 1, targetSizeFloat: 1 } as const;

export class ExternalScaler {
  constructor(private readonly provider: ExternalMetricsProvider) {}

  /** R for the trigger's policy (or migration role) now, from the same decision the external metrics API publishes. */
  async read(ref: ScaledObjectRef): Promise<ScalerReading> {
    const t = scalerTarget(ref);
    const { selector, text } = targetSelector(t);
    const values = await this.provider.getValues(t.namespace, DESIRED_REPLICAS_METRIC, selector, text);
    // The selector pins one policy (and role): a second item would mean two policies share a name, which the store refuses.
    const q = values.length === 1 ? tryParseQuantity(values[0]!.value) : undefined;
    if (!q) throw new Error(`expected one desired-replicas value for ${t.namespace}/${t.policy}, got ${values.length}`);
    const replicas = quantityToNumber(q);
    const window = values[0]!.window;
    return { replicas, active: replicas > 0, ...(window ? { intervalMs: window * 1000 } : {}) };
  }

  async isActive(ref: ScaledObjectRef): Promise<boolean> {
    return (await this.read(ref)).active;
  }

  metricSpec(ref: ScaledObjectRef): typeof METRIC_SPEC {
    scalerTarget(ref); // bad metadata is refused here already, when KEDA builds the HPA
    return METRIC_SPEC;
  }

  async metrics(ref: ScaledObjectRef, metricName: string): Promise<{ metricName: string; metricValue: number; metricValueFloat: number }> {
    if (metricName !== DESIRED_REPLICAS_METRIC) throw new BadRequestError(`this scaler serves the metric ${DESIRED_REPLICAS_METRIC}, not ${JSON.stringify(clip(metricName))}`);
    const { replicas } = await this.read(ref);
    return { metricName, metricValue: Math.round(replicas), metricValueFloat: replicas };
  }
}
