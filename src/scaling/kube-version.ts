// Kubernetes versions as `governor hpa` and `governor keda` target them: the oldest one governor supports, and which
// HPA fields a version has (each with the upstream release that introduced it and its feature gate).

export interface KubeVersion {
  readonly major: number;
  readonly minor: number;
}

/**
 * The oldest Kubernetes governor supports: its webhooks use matchConditions (GA in 1.30) and its pods the preStop sleep
 * action (beta, on by default, in 1.30). docs/install.md and the chart's kubeVersion say the same (a test checks).
 */
export const MIN_KUBE_VERSION: KubeVersion = { major: 1, minor: 30 };

export const formatKubeVersion = (v: KubeVersion): string => `${v.major}.${v.minor}`;

/**
 * "1.33", "v1.33", "1.33.2" or a server's gitVersion ("v1.33.2-eks-1a2b3c"): the patch level and build suffix are
 * accepted and ignored; undefined for anything else.
 */
export function parseKubeVersion(text: string): KubeVersion | undefined {
  const m = /^v?(\d{1,3})\.(\d{1,3})(?:\.\d{1,4}(?:[-+][0-9A-Za-z.+-]{1,64})?)?$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

export const kubeVersionAtLeast = (v: KubeVersion, min: KubeVersion): boolean => v.major > min.major || (v.major === min.major && v.minor >= min.minor);

/** A field added behind a feature gate: alpha (gate off by default) from one release, on by default from another. */
export interface GatedField {
  readonly field: string;
  readonly gate: string;
  readonly alpha: KubeVersion;
  readonly onByDefault: KubeVersion;
}

/**
 * HorizontalPodAutoscaler spec.behavior.scaleUp/scaleDown.tolerance (KEP-4951): alpha in 1.33, beta and on by
 * default in 1.35 (kubernetes pkg/features, HPAConfigurableTolerance). Every other field `governor hpa` writes is
 * autoscaling/v2 as of 1.23.
 */
export const HPA_TOLERANCE: GatedField = {
  field: 'behavior.*.tolerance',
  gate: 'HPAConfigurableTolerance',
  alpha: { major: 1, minor: 33 },
  onByDefault: { major: 1, minor: 35 },
};

/** What a version offers of a gated field: nothing, the field behind a gate that is off by default, or the field. */
export function fieldSupport(f: GatedField, v: KubeVersion): 'absent' | 'gate-off-by-default' | 'on' {
  if (kubeVersionAtLeast(v, f.onByDefault)) return 'on';
  return kubeVersionAtLeast(v, f.alpha) ? 'gate-off-by-default' : 'absent';
}
