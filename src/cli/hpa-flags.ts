// The HPA settings `governor hpa`, `governor keda` and `governor simulate` share: the Kubernetes version the objects
// are for (--kube-version), behavior.*.tolerance (--hpa-tolerance) and the maxReplicas of a migration's two HPAs.
import type { Command } from 'commander';
import type { HpaManifestOptions } from '../scaling/hpa-manifest.js';
import { fieldSupport, formatKubeVersion, HPA_TOLERANCE, kubeVersionAtLeast, MIN_KUBE_VERSION, parseKubeVersion, type KubeVersion } from '../scaling/kube-version.js';

export class HpaUsageError extends Error {
  override name = 'HpaUsageError';
}

export interface HpaFlags {
  /** --kube-version: the Kubernetes version (major.minor) the objects are for; default MIN_KUBE_VERSION. */
  readonly kubeVersion?: string;
  /** --hpa-tolerance: a ratio >= 0, or "none" to leave the field out; default 0 where the version has the field on. */
  readonly hpaTolerance?: string;
  readonly sourceMaxReplicas?: number;
  readonly targetMaxReplicas?: number;
}

/** A flag parser for a whole number of at least `min` (a usage error otherwise). */
export const wholeNumber = (flag: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new HpaUsageError(`${flag} "${v}" must be a whole number >= ${min}`);
  return n;
};

/**
 * Registers the shared flags. `maxField` names the field the max flags set (maxReplicas of an HPA, maxReplicaCount of
 * a ScaledObject); simulate replays a cluster given by its controller flags, so it has no --kube-version.
 */
export function hpaFlagOptions(cmd: Command, o: { readonly maxField: string; readonly kubeVersion: boolean }): Command {
  if (o.kubeVersion) {
    cmd.option(
      '--kube-version <major.minor>',
      `Kubernetes version the objects are for (default ${formatKubeVersion(MIN_KUBE_VERSION)}, the oldest supported): fields it lacks are left out or refused`,
    );
  }
  return cmd
    .option(
      '--hpa-tolerance <ratio|none>',
      o.kubeVersion
        ? `behavior.*.tolerance (default 0 from Kubernetes ${formatKubeVersion(HPA_TOLERANCE.onByDefault)}, else left out; none: always left out)`
        : 'behavior.*.tolerance of the HPAs (default 0; none leaves it out)',
    )
    .option('--source-max-replicas <n>', `migration: the source's ${o.maxField} when neither spec.base nor capacity.replicas gives it`, wholeNumber('--source-max-replicas', 1))
    .option('--target-max-replicas <n>', `migration: the target's ${o.maxField} when spec.target.maxReplicas is not set`, wholeNumber('--target-max-replicas', 1));
}

/** --hpa-tolerance as given: a ratio, "none" (leave it out), or undefined (not given). */
function toleranceFlag(v: string | undefined): number | 'none' | undefined {
  if (v === undefined || v === 'none') return v;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new HpaUsageError(`--hpa-tolerance "${v}" must be a number >= 0 or "none"`);
  return n;
}

const maxReplicas = (a: HpaFlags) => ({
  ...(a.sourceMaxReplicas !== undefined ? { sourceMaxReplicas: a.sourceMaxReplicas } : {}),
  ...(a.targetMaxReplicas !== undefined ? { targetMaxReplicas: a.targetMaxReplicas } : {}),
});

/** The settings as given, for a replay that states the cluster's behavior itself (simulate's controller flags). */
export function hpaSettings(a: HpaFlags): HpaManifestOptions {
  const t = toleranceFlag(a.hpaTolerance);
  return { ...(t === undefined ? {} : { tolerance: t === 'none' ? undefined : t }), ...maxReplicas(a) };
}

/** --kube-version, checked: a version governor supports. */
export function targetKubeVersion(text: string | undefined): KubeVersion {
  if (text === undefined) return MIN_KUBE_VERSION;
  const v = parseKubeVersion(text);
  if (!v) throw new HpaUsageError(`--kube-version "${text}" must be a Kubernetes version such as ${formatKubeVersion(MIN_KUBE_VERSION)} (major.minor)`);
  if (!kubeVersionAtLeast(v, MIN_KUBE_VERSION)) {
    throw new HpaUsageError(`--kube-version ${formatKubeVersion(v)}: governor supports Kubernetes ${formatKubeVersion(MIN_KUBE_VERSION)} and newer (docs/install.md)`);
  }
  return v;
}

/**
 * The settings for objects applied to a cluster of --kube-version. behavior.*.tolerance: written by default only where
 * the version has it on (1.35+); asked for on a version without the field it is refused (the API server would drop it
 * and the HPA would keep the 10 % band while the YAML says otherwise); on 1.33 and 1.34, where the field exists behind
 * an alpha gate that is off by default, it is written with a warning (a cluster with the gate on honours it).
 */
export function hpaOptions(a: HpaFlags, warn: (message: string) => void): HpaManifestOptions {
  const v = targetKubeVersion(a.kubeVersion);
  const asked = toleranceFlag(a.hpaTolerance);
  const support = fieldSupport(HPA_TOLERANCE, v);
  const f = HPA_TOLERANCE;
  const history = `the field came in Kubernetes ${formatKubeVersion(f.alpha)} behind the ${f.gate} gate (alpha, off by default) and is on by default from ${formatKubeVersion(f.onByDefault)}`;
  const band = "the controller's 10 % tolerance band applies (set --horizontal-pod-autoscaler-tolerance on kube-controller-manager to change it cluster-wide)";
  let tolerance: number | undefined;
  const notes: string[] = [];
  if (typeof asked === 'number') {
    if (support === 'absent') {
      throw new HpaUsageError(`--hpa-tolerance ${a.hpaTolerance}: Kubernetes ${formatKubeVersion(v)} has no ${f.field} (${history}); leave the flag out, or give the cluster's version with --kube-version`);
    }
    if (support === 'gate-off-by-default') warn(`--hpa-tolerance on Kubernetes ${formatKubeVersion(v)}: ${f.field} needs the ${f.gate} feature gate (alpha, off by default); without it the API server drops the field and ${band}`);
    tolerance = asked;
  } else if (asked === undefined && support === 'on') {
    tolerance = 0;
  } else if (asked === undefined) {
    notes.push(`${f.field} is left out for Kubernetes ${formatKubeVersion(v)} (${history}): ${band}; for a newer cluster pass --kube-version`);
  }
  return { tolerance, ...maxReplicas(a), ...(notes.length ? { notes } : {}) };
}
