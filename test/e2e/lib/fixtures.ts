// Test data of the e2e suite: namespaces, policies and workloads, named per run so reruns on a reused cluster never
// collide. Policies are written to files and served with `governor serve --policies`, as users deploy them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunNames {
  readonly id: string;
  /** Admission checks with the suite's own GovernancePolicies. */
  readonly adm: string;
  /** tier=prod: the sample policy policies/governance/team-defaults.yaml applies. */
  readonly prod: string;
  /** ScalingPolicy regimes and the source outage. */
  readonly scale: string;
  /** Real HPA controller vs simulateTrace. */
  readonly sim: string;
  /** MigrationPolicy with two HPAs. */
  readonly mig: string;
}

export function runNames(): RunNames {
  const id = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  const ns = (s: string) => `kg-e2e-${id}-${s}`;
  return { id, adm: ns('adm'), prod: ns('prod'), scale: ns('scale'), sim: ns('sim'), mig: ns('mig') };
}

/** The gauge the test's metrics target exposes; every policy reads one `workload` series of it. */
export const LOAD_METRIC = 'kg_e2e_load';
export const loadQuery = (workload: string) => `${LOAD_METRIC}{workload="${workload}"}`;

/** Formula parameters of the `web` policies (kept here so the test's oracle and the policy cannot drift apart). */
export const WEB = { low: 10, high: 50, min: 1, base: 2, max: 6, cap: 8, step: 1, intervalMs: 2000 } as const;
export const SIM = { low: 10, high: 50, min: 1, base: 1, max: 6, cap: 6, step: 1, intervalMs: 1000 } as const;
export const MIG = { low: 10, high: 50, base: 4, capacity: 4, targetMax: 6, step: 1, intervalMs: 2000 } as const;

export interface PolicyFiles {
  readonly dir: string;
  readonly governance: string;
  readonly scaling: string;
  readonly simulate: string;
  readonly migration: string;
}

export function writePolicies(dir: string, n: RunNames): PolicyFiles {
  // The admission policies also name kube-system and kube-governor: only the webhook's exclusions keep them untouched.
  const governed = `[kube-system, kube-governor, ${n.adm}]`;
  const governance = `# e2e: defaults and limits (enforce), a required annotation (audit)
apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: e2e-defaults}
spec:
  mode: enforce
  match:
    kinds: [Deployment]
    namespaces: ${governed}
  resources:
    require: [requests.cpu, requests.memory, limits.memory]
    max: {memory: 1Gi}
    defaults: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 128Mi}}
  labels:
    team: {required: true, default: platform-e2e, copyToPodTemplate: true}
---
apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: e2e-audit}
spec:
  mode: audit
  match:
    kinds: [Deployment]
    namespaces: ${governed}
  annotations:
    e2e.governor.io/reviewed-by: {required: true}
`;
  const scalingPolicy = (name: string, ns: string, workload: string, p: { low: number; high: number; min: number; base: number; max: number; cap: number; step: number; intervalMs: number }, failure: string) => `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: ${name}}
  load: {prometheus: {query: '${loadQuery(workload)}', timeout: 2s}}
  thresholds: {low: ${p.low}, high: ${p.high}}
  replicas: {min: ${p.min}, base: ${p.base}, max: ${p.max}, cap: ${p.cap}}
  step: ${p.step}
  interval: ${p.intervalMs / 1000}s
  staleAfter: 1m
  onSourceFailure: ${failure}
`;
  const scaling = [
    scalingPolicy('web', n.scale, 'web', WEB, '{action: hold, after: 2}'),
    scalingPolicy('web-fixed', n.scale, 'web', WEB, '{action: fixed, replicas: 3, after: 2}'),
  ].join('---\n');
  const simulate = [
    scalingPolicy('track', n.sim, 'sim', SIM, '{action: hold, after: 2}'),
    scalingPolicy('limited', n.sim, 'sim', SIM, '{action: hold, after: 2}'),
  ].join('---\n');
  const migration = `apiVersion: governor.io/v1alpha1
kind: MigrationPolicy
metadata: {name: move, namespace: ${n.mig}}
spec:
  source: {apiVersion: apps/v1, kind: Deployment, name: old}
  target: {apiVersion: apps/v1, kind: Deployment, name: new, minReplicas: 1, maxReplicas: ${MIG.targetMax}}
  load: {prometheus: {query: '${loadQuery('mig')}', timeout: 2s}}
  thresholds: {low: ${MIG.low}, high: ${MIG.high}}
  base: ${MIG.base}
  minDrain: 0
  step: ${MIG.step}
  interval: ${MIG.intervalMs / 1000}s
  capacity: {replicas: ${MIG.capacity}}
`;
  const files: PolicyFiles = {
    dir,
    governance: join(dir, 'governance.yaml'),
    scaling: join(dir, 'scaling.yaml'),
    simulate: join(dir, 'simulate.yaml'),
    migration: join(dir, 'migration.yaml'),
  };
  writeFileSync(files.governance, governance);
  writeFileSync(files.scaling, scaling);
  writeFileSync(files.simulate, simulate);
  writeFileSync(files.migration, migration);
  return files;
}

/** A Deployment manifest (JSON, for kubectl apply -f -). No kubelet runs, so its pods stay Pending; that is enough. */
export function deployment(
  ns: string,
  name: string,
  o: { replicas?: number; labels?: Record<string, string>; annotations?: Record<string, string>; resources?: Record<string, unknown> } = {},
): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, ...(o.labels ? { labels: o.labels } : {}), ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      replicas: o.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/kg-e2e:1', ...(o.resources ? { resources: o.resources } : {}) }] },
      },
    },
  });
}

/** Resources that satisfy every policy of the suite (and the samples). */
export const SMALL_RESOURCES = { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '32Mi' } };

/** The formula of issue 2 outside overload, as an independent oracle: base below Tmin, proportional in the band. */
export function formulaReplicas(load: number, p: { low: number; high: number; min: number; base: number; max: number; cap: number }): number {
  if (load > p.high) throw new Error('overload depends on the previous replicas; assert it as a sequence');
  const r = load < p.low ? p.base : p.base + ((load - p.low) / (p.high - p.low)) * (p.max - p.base);
  return Math.min(p.cap, Math.max(p.min, Math.ceil(r - 1e-9)));
}
