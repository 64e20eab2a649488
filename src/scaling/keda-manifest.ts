// The KEDA ScaledObjects a ScalingPolicy (one) or MigrationPolicy (two: source and target) needs when KEDA owns the
// cluster's external metrics API: an external(-push) trigger on governor's scaler, with the same limits and tracking
// behavior as the native HPAs of `governor hpa`. KEDA's HPA then lands on the policy's R (target 1, AverageValue).
import type { MigrationPolicy, ScalingPolicy, WorkloadRef } from '../policy/types.js';
import { MANAGED_BY_LABELS, METRIC_ROLE_LABEL, POLICY_LABEL, type WorkloadRole } from './contract.js';
import { migrationPolicyHpas, scalingPolicyHpa, type HpaManifest, type HpaManifestOptions, type ManifestMetadata } from './hpa-manifest.js';

export interface KedaManifestOptions extends HpaManifestOptions {
  /** host:port of governor's scaler as KEDA reaches it (the keda Service of the install). */
  readonly scalerAddress: string;
  /** `external-push` (default: activity pushed by StreamIsActive) or `external` (KEDA polls IsActive). */
  readonly triggerType?: 'external' | 'external-push';
  /** Seconds of inactivity before KEDA takes the workload to zero (KEDA's cooldownPeriod; its default is 300). */
  readonly cooldownSeconds?: number;
  /**
   * Seconds after its creation during which a ScaledObject that may scale to zero does not (KEDA's
   * initialCooldownPeriod, KEDA 2.13 and later; its default is 0). Default: the cooldown period.
   */
  readonly initialCooldownSeconds?: number;
  /** TriggerAuthentication (or ClusterTriggerAuthentication) with caCert, when the scaler serves TLS. */
  readonly tlsAuthentication?: { readonly name: string; readonly kind: 'TriggerAuthentication' | 'ClusterTriggerAuthentication' };
}

export interface ScaledObjectManifest {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'ScaledObject';
  metadata: ManifestMetadata;
  spec: {
    scaleTargetRef: WorkloadRef;
    pollingInterval: number;
    cooldownPeriod: number;
    initialCooldownPeriod?: number;
    minReplicaCount: number;
    maxReplicaCount: number;
    advanced: { horizontalPodAutoscalerConfig: { name: string; behavior: HpaManifest['spec']['behavior'] } };
    triggers: Array<{
      type: 'external' | 'external-push';
      metricType: 'AverageValue';
      metadata: Record<string, string>;
      authenticationRef?: { name: string; kind: string };
    }>;
  };
}

export interface GeneratedScaledObject {
  readonly role: WorkloadRole;
  readonly workload: WorkloadRef;
  readonly manifest: ScaledObjectManifest;
  readonly notes: readonly string[];
}

/** KEDA's own default cooldownPeriod, written out so the manifest says what applies. */
const KEDA_DEFAULT_COOLDOWN_SECONDS = 300;

function toScaledObject(hpa: HpaManifest, policy: ScalingPolicy | MigrationPolicy, role: WorkloadRole | undefined, min: number, intervalMs: number, o: KedaManifestOptions): ScaledObjectManifest {
  const metadata: Record<string, string> = { scalerAddress: o.scalerAddress, policy: `${policy.namespace}/${policy.name}`, ...(role ? { role } : {}) };
  if (o.tlsAuthentication) metadata.enableTLS = 'true';
  const cooldownPeriod = o.cooldownSeconds ?? KEDA_DEFAULT_COOLDOWN_SECONDS;
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: hpa.metadata.name, namespace: policy.namespace, labels: { ...MANAGED_BY_LABELS, [POLICY_LABEL]: policy.name, ...(role ? { [METRIC_ROLE_LABEL]: role } : {}) } },
    spec: {
      scaleTargetRef: hpa.spec.scaleTargetRef,
      // KEDA asks IsActive this often (external) and its HPA reads the value at its own sync: the policy's interval.
      pollingInterval: Math.max(1, Math.round(intervalMs / 1000)),
      cooldownPeriod,
      // Without it KEDA zeroes a new ScaledObject's workload at its first inactive check, and KEDA 2.21 reads a check
      // that raced with its scaler-cache reset (after any scaler error, e.g. a policy not loaded yet) as inactive:
      // that took a migration's source from 4 to 0 at creation (test/e2e/keda_test.ts).
      ...(min === 0 ? { initialCooldownPeriod: o.initialCooldownSeconds ?? cooldownPeriod } : {}),
      minReplicaCount: min,
      maxReplicaCount: hpa.spec.maxReplicas,
      advanced: { horizontalPodAutoscalerConfig: { name: `keda-hpa-${hpa.metadata.name}`, behavior: hpa.spec.behavior } },
      triggers: [
        {
          type: o.triggerType ?? 'external-push',
          metricType: 'AverageValue',
          metadata,
          ...(o.tlsAuthentication ? { authenticationRef: { name: o.tlsAuthentication.name, kind: o.tlsAuthentication.kind } } : {}),
        },
      ],
    },
  };
}

/** One ScaledObject for a ScalingPolicy; replicas.min 0 is honoured (KEDA scales to zero while R is 0). */
export function scalingPolicyScaledObject(p: ScalingPolicy, o: KedaManifestOptions): GeneratedScaledObject {
  const hpa = scalingPolicyHpa(p, o);
  const notes = [...(p.replicas.min === 0 ? ['replicas.min is 0: KEDA takes the workload to zero while R is 0 (base level below Tmin), after cooldownPeriod'] : []), ...(o.notes ?? [])];
  return { role: 'target', workload: p.target, manifest: toScaledObject(hpa.manifest, p, undefined, p.replicas.min, p.intervalMs, o), notes };
}

/** Two ScaledObjects for a MigrationPolicy; the source's minReplicaCount is 0, so KEDA removes its last replica when R′ reaches 0. */
export function migrationPolicyScaledObjects(p: MigrationPolicy, o: KedaManifestOptions): GeneratedScaledObject[] {
  return migrationPolicyHpas(p, o).map((h) => {
    const min = h.role === 'source' ? 0 : p.target.minReplicas;
    const notes = [...(h.role === 'source' ? ['minReplicaCount 0: when the migration has drained the source, KEDA removes its last replica (no alpha gate needed)'] : []), ...(o.notes ?? [])];
    return { role: h.role, workload: h.workload, manifest: toScaledObject(h.manifest, p, h.role, min, p.intervalMs, o), notes };
  });
}
