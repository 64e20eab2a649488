// Thin I/O shell: loads ScalingPolicy, MigrationPolicy and GovernancePolicy objects from the cluster (governor.io CRDs)
// and offers them to the store as the "cluster" source, through the same validation as files.
import { CustomObjectsApi, makeInformer, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '../observability/log.js';
import { compileObject, type AnyPolicy } from './parse.js';
import type { PolicyStore, ReloadOutcome } from './store.js';
import type { PolicyError } from './types.js';

export const POLICY_GROUP = 'governor.io';
export const POLICY_VERSION = 'v1alpha1';
export const POLICY_PLURALS = ['scalingpolicies', 'migrationpolicies', 'governancepolicies'] as const;

/** The fields a policy document may carry; server-side metadata and status are dropped before validation. */
export function toPolicyDocument(o: any): object {
  const m = o?.metadata ?? {};
  return {
    apiVersion: o?.apiVersion,
    kind: o?.kind,
    metadata: {
      name: m.name,
      ...(m.namespace ? { namespace: m.namespace } : {}),
      ...(m.labels ? { labels: m.labels } : {}),
      ...(m.annotations ? { annotations: m.annotations } : {}),
    },
    spec: o?.spec,
  };
}

/** Compiles a snapshot of cluster objects; the "file" of an error is the object's kind/namespace/name. */
export function compileClusterObjects(objects: readonly any[]): { policies: AnyPolicy[]; errors: PolicyError[] } {
  const policies: AnyPolicy[] = [];
  const errors: PolicyError[] = [];
  for (const o of objects) {
    const m = o?.metadata ?? {};
    const file = `cluster:${o?.kind}/${m.namespace ? `${m.namespace}/` : ''}${m.name}`;
    const r = compileObject(toPolicyDocument(o), { file, document: 1 });
    if (r.policy) policies.push(r.policy);
    errors.push(...r.errors);
  }
  return { policies, errors };
}

export interface ClusterPolicyLoaderOptions {
  readonly kubeConfig: KubeConfig;
  readonly store: PolicyStore;
  readonly log: Logger;
  readonly onReload?: (outcome: ReloadOutcome) => void;
  /** Coalesces bursts of watch events into one reload. */
  readonly debounceMs?: number;
}

/** Watches the three policy resources (informers relist and rewatch on their own) and re-offers the snapshot on change. */
export class ClusterPolicyLoader {
  private readonly informers: (Informer<KubernetesObject> & ObjectCache<KubernetesObject>)[] = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly o: ClusterPolicyLoaderOptions) {}

  async start(): Promise<void> {
    const api = this.o.kubeConfig.makeApiClient(CustomObjectsApi);
    for (const plural of POLICY_PLURALS) {
      const informer = makeInformer(this.o.kubeConfig, `/apis/${POLICY_GROUP}/${POLICY_VERSION}/${plural}`, () =>
        api.listClusterCustomObject({ group: POLICY_GROUP, version: POLICY_VERSION, plural }) as any,
      );
      for (const ev of ['add', 'update', 'delete'] as const) informer.on(ev, () => this.schedule());
      informer.on('error', (err: unknown) => {
        this.o.log.warn({ plural, err: (err as Error)?.message ?? String(err) }, 'policy watch failed (are the governor.io CRDs installed?); retrying in 30s');
        setTimeout(() => void informer.start().catch(() => undefined), 30_000).unref();
      });
      this.informers.push(informer);
      await informer.start().catch((err: unknown) => this.o.log.warn({ plural, err: (err as Error)?.message }, 'policy list failed; retrying in 30s'));
    }
    this.reload();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reload();
    }, this.o.debounceMs ?? 200);
    this.timer.unref();
  }

  reload(): ReloadOutcome {
    const objects = this.informers.flatMap((i) => i.list());
    const r = compileClusterObjects(objects);
    const outcome = this.o.store.offer(r.policies, r.errors, 'cluster');
    this.o.onReload?.(outcome);
    return outcome;
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
