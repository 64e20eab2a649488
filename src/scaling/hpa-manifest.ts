// The native autoscaling/v2 HPAs a ScalingPolicy (one) or MigrationPolicy (two: source and target) needs, as plain
// objects plus the HpaSpec the replay uses, so `governor hpa` and `governor simulate` describe the same HPA.
import { workloadRef, type MigrationPolicy, type ScalingPolicy, type WorkloadRef } from '../policy/types.js';
import { DESIRED_REPLICAS_METRIC, MANAGED_BY_LABELS, METRIC_ROLE_LABEL, POLICY_LABEL, type WorkloadRole } from './contract.js';
import type { HpaBehavior, HpaSpec } from './hpa-replay.js';

export interface HpaManifestOptions {
  /** behavior.*.tolerance; undefined omits the field (clusters without HPAConfigurableTolerance: src/scaling/kube-version.ts). Default 0. */
  readonly tolerance?: number | undefined;
  /** maxReplicas of a migration's source HPA when the policy does not imply one. */
  readonly sourceMaxReplicas?: number;
  /** maxReplicas of a migration's target HPA when spec.target.maxReplicas is not set. */
  readonly targetMaxReplicas?: number;
  /** The ScalingPolicy a MigrationPolicy takes its capacity from, when known (its cap bounds both HPAs). */
  readonly capacityPolicy?: ScalingPolicy;
  /** Rate policy period: any value works because the policies never limit; 15 s is the default sync period. */
  readonly periodSeconds?: number;
  /** Notes for every generated object (e.g. why a field is left out for the target Kubernetes version). */
  readonly notes?: readonly string[];
}

export interface GeneratedHpa {
  readonly role: WorkloadRole;
  readonly workload: WorkloadRef;
  readonly manifest: HpaManifest;
  /** The same HPA as the replay reads it. */
  readonly spec: HpaSpec;
  /** Notes the YAML renderer turns into comments (why a value is what it is). */
  readonly notes: readonly string[];
}

/** The metadata of a generated manifest. */
export interface ManifestMetadata {
  name: string;
  namespace: string;
  labels: Record<string, string>;
}

export interface HpaManifest {
  apiVersion: 'autoscaling/v2';
  kind: 'HorizontalPodAutoscaler';
  metadata: ManifestMetadata;
  spec: {
    scaleTargetRef: WorkloadRef;
    minReplicas: number;
    maxReplicas: number;
    metrics: Array<{
      type: 'External';
      external: {
        metric: { name: string; selector: { matchLabels: Record<string, string> } };
        target: { type: 'AverageValue'; averageValue: string };
      };
    }>;
    behavior: {
      scaleUp: ManifestRules;
      scaleDown: ManifestRules;
    };
  };
}

interface ManifestRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max';
  policies: Array<{ type: 'Pods' | 'Percent'; value: number; periodSeconds: number }>;
  tolerance?: string;
}

export class HpaGenerationError extends Error {
  override name = 'HpaGenerationError';
}

/**
 * Behavior that lets the HPA land on the published value at its next sync: no stabilization (governor's interval grid
 * already keeps the value steady), rate policies that can never limit (scale up by maxReplicas pods, down by 100 %),
 * and, where supported, tolerance 0 so that 10 → 11 is not swallowed by the default 10 % band.
 */
export function trackingBehavior(maxReplicas: number, opts: Pick<HpaManifestOptions, 'tolerance' | 'periodSeconds'> = {}): HpaBehavior {
  const period = opts.periodSeconds ?? 15;
  const tol = 'tolerance' in opts ? opts.tolerance : 0;
  const t = tol !== undefined ? { tolerance: tol } : {};
  return {
    scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: Math.max(1, maxReplicas), periodSeconds: period }], ...t },
    scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: period }], ...t },
  };
}

function build(
  name: string,
  namespace: string,
  policyName: string,
  role: WorkloadRole | undefined,
  workload: WorkloadRef,
  min: number,
  max: number,
  opts: HpaManifestOptions,
): { manifest: HpaManifest; spec: HpaSpec } {
  const behavior = trackingBehavior(max, opts);
  const matchLabels: Record<string, string> = { [POLICY_LABEL]: policyName, ...(role ? { [METRIC_ROLE_LABEL]: role } : {}) };
  const rules = (r: NonNullable<HpaBehavior['scaleUp']>): ManifestRules => ({
    stabilizationWindowSeconds: r.stabilizationWindowSeconds!,
    selectPolicy: 'Max',
    policies: r.policies!.map((p) => ({ type: p.type, value: p.value, periodSeconds: p.periodSeconds })),
    ...(r.tolerance !== undefined ? { tolerance: String(r.tolerance) } : {}),
  });
  const manifest: HpaManifest = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name,
      namespace,
      labels: { ...MANAGED_BY_LABELS, ...matchLabels },
    },
    spec: {
      scaleTargetRef: workloadRef(workload),
      minReplicas: min,
      maxReplicas: max,
      metrics: [
        {
          type: 'External',
          external: {
            metric: { name: DESIRED_REPLICAS_METRIC, selector: { matchLabels } },
            target: { type: 'AverageValue', averageValue: '1' },
          },
        },
      ],
      behavior: { scaleUp: rules(behavior.scaleUp!), scaleDown: rules(behavior.scaleDown!) },
    },
  };
  return { manifest, spec: { minReplicas: min, maxReplicas: max, targetAverageValue: 1, behavior } };
}

/** One HPA for a ScalingPolicy: min from replicas.min (at least 1), max = the cap (the decision never exceeds it). */
export function scalingPolicyHpa(p: ScalingPolicy, opts: HpaManifestOptions = {}): GeneratedHpa {
  const notes: string[] = [];
  const min = Math.max(1, p.replicas.min);
  if (p.replicas.min < 1) notes.push('replicas.min is 0; minReplicas 0 needs the alpha HPAScaleToZero gate, so 1 is used');
  const { manifest, spec } = build(p.name, p.namespace, p.name, undefined, p.target, min, p.replicas.cap, opts);
  return { role: 'target', workload: p.target, manifest, spec, notes: [...notes, ...(opts.notes ?? [])] };
}

/** The most replicas the source can be asked for: R′(0), or what it must carry when the target is full. */
export function sourceMaxReplicas(p: MigrationPolicy, opts: HpaManifestOptions = {}): number | undefined {
  if (opts.sourceMaxReplicas !== undefined) return opts.sourceMaxReplicas;
  const candidates: number[] = [];
  if (p.base !== undefined) candidates.push(p.base);
  if (p.capacity && 'replicas' in p.capacity) candidates.push(p.capacity.replicas);
  if (opts.capacityPolicy) candidates.push(opts.capacityPolicy.replicas.cap);
  return candidates.length ? Math.max(1, ...candidates) : undefined;
}

export function targetMaxReplicas(p: MigrationPolicy, opts: HpaManifestOptions = {}): number | undefined {
  if (p.target.maxReplicas !== undefined) return p.target.maxReplicas;
  if (opts.targetMaxReplicas !== undefined) return opts.targetMaxReplicas;
  const candidates: number[] = [];
  if (p.capacity && 'replicas' in p.capacity) candidates.push(p.capacity.replicas);
  if (opts.capacityPolicy) candidates.push(opts.capacityPolicy.replicas.cap);
  if (p.base !== undefined) candidates.push(p.base);
  return candidates.length ? Math.max(1, ...candidates) : undefined;
}

/** Two HPAs for a MigrationPolicy: `<name>-source` and `<name>-target`, each reading its role's value. */
export function migrationPolicyHpas(p: MigrationPolicy, opts: HpaManifestOptions = {}): GeneratedHpa[] {
  const sMax = sourceMaxReplicas(p, opts);
  if (sMax === undefined) {
    throw new HpaGenerationError(
      `MigrationPolicy ${p.namespace}/${p.name}: the source HPA needs a maxReplicas of at least the source's current replicas; set spec.base or capacity.replicas, or pass --source-max-replicas`,
    );
  }
  const tMax = targetMaxReplicas(p, opts);
  if (tMax === undefined) {
    throw new HpaGenerationError(`MigrationPolicy ${p.namespace}/${p.name}: set spec.target.maxReplicas or pass --target-max-replicas`);
  }
  const sNotes = ['the source drains to 0 only with minReplicas 0 (alpha HPAScaleToZero); with 1 the last replica stays until you remove it after Completed'];
  const source = build(`${p.name}-source`, p.namespace, p.name, 'source', p.source, 1, sMax, opts);
  const tNotes: string[] = [];
  if (p.target.minReplicas < 1) tNotes.push('target.minReplicas is 0; the HPA needs at least 1 (and the target must not start at 0 replicas: an HPA ignores a workload at 0)');
  const target = build(`${p.name}-target`, p.namespace, p.name, 'target', p.target, Math.max(1, p.target.minReplicas), tMax, opts);
  return [
    { role: 'source', workload: p.source, ...source, notes: [...sNotes, ...(opts.notes ?? [])] },
    { role: 'target', workload: workloadRef(p.target), ...target, notes: [...tNotes, ...(opts.notes ?? [])] },
  ];
}
