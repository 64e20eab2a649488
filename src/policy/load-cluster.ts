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

/** The part of a client-node informer the loader uses, so tests can pass a fake. */
export interface PolicyInformer {
  list(): KubernetesObject[];
  on(verb: 'add' | 'update' | 'delete' | 'error', cb: (obj?: any) => void): void;
  /** client-node resolves even when the first list fails (it reports through 'error'). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function policyInformer(kc: KubeConfig, plural: string): PolicyInformer {
  const api = kc.makeApiClient(CustomObjectsApi);
  return makeInformer(kc, `/apis/${POLICY_GROUP}/${POLICY_VERSION}/${plural}`, () =>
    api.listClusterCustomObject({ group: POLICY_GROUP, version: POLICY_VERSION, plural }) as any,
  ) as unknown as PolicyInformer & ObjectCache<KubernetesObject> & Informer<KubernetesObject>;
}

export interface ClusterPolicyLoaderOptions {
  readonly kubeConfig?: KubeConfig;
  /** Default: a client-node informer per plural from kubeConfig. */
  readonly informerFor?: (plural: (typeof POLICY_PLURALS)[number]) => PolicyInformer;
  readonly store: PolicyStore;
  readonly log: Logger;
  readonly onReload?: (outcome: ReloadOutcome) => void;
  /** Coalesces bursts of watch events into one reload. */
  readonly debounceMs?: number;
  /** Delay before listing again after a failed list or watch (default 30 s). */
  readonly retryMs?: number;
}

interface Watched {
  readonly plural: string;
  readonly informer: PolicyInformer;
  synced: boolean;
  errored: boolean;
  lastError?: string;
  retry?: NodeJS.Timeout;
}

/**
 * Watches the three policy resources and re-offers the snapshot on change. A resource counts as synced once its first
 * list succeeded; until all three are, synced() says which are missing and why (readiness waits for it).
 */
export class ClusterPolicyLoader {
  private readonly watched: Watched[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  constructor(private readonly o: ClusterPolicyLoaderOptions) {}

  /** Resolves after the first list attempt of each resource; failures are logged and retried, never thrown. */
  async start(): Promise<void> {
    const make = this.o.informerFor ?? ((plural: string) => policyInformer(this.o.kubeConfig!, plural));
    for (const plural of POLICY_PLURALS) {
      const w: Watched = { plural, informer: make(plural), synced: false, errored: false };
      for (const ev of ['add', 'update', 'delete'] as const) w.informer.on(ev, () => this.schedule());
      w.informer.on('error', (err: unknown) => this.failed(w, err));
      this.watched.push(w);
    }
    await Promise.all(this.watched.map((w) => this.run(w)));
    this.reload();
  }

  /** true once every resource has been listed; otherwise what is missing. */
  synced(): true | string {
    const missing = this.watched.filter((w) => !w.synced);
    if (this.watched.length && !missing.length) return true;
    if (!this.watched.length) return 'cluster policy informers not started';
    return `waiting for the first list of ${missing.map((w) => `${w.plural}${w.lastError ? ` (${w.lastError})` : ''}`).join(', ')}`;
  }

  private async run(w: Watched): Promise<void> {
    if (this.stopped) return;
    w.errored = false;
    try {
      await w.informer.start();
    } catch (e) {
      this.failed(w, e);
    }
    if (w.errored || this.stopped) return;
    const first = !w.synced;
    w.synced = true;
    delete w.lastError;
    // Offered at once (not debounced), so the readiness check never sees a synced resource without its objects.
    if (first) this.reload();
  }

  private failed(w: Watched, err: unknown): void {
    if (this.stopped) return;
    w.errored = true;
    w.lastError = String((err as Error)?.message ?? err).slice(0, 200);
    if (w.retry) return;
    const ms = this.o.retryMs ?? 30_000;
    this.o.log.warn({ plural: w.plural, err: w.lastError, retryInMs: ms }, w.synced ? 'policy watch failed; listing again' : 'policy list failed (are the governor.io CRDs installed?); retrying');
    w.retry = setTimeout(() => {
      delete w.retry;
      void this.run(w);
    }, ms);
    w.retry.unref();
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reload();
    }, this.o.debounceMs ?? 200);
    this.timer.unref();
  }

  reload(): ReloadOutcome {
    const objects = this.watched.flatMap((w) => w.informer.list());
    const r = compileClusterObjects(objects);
    const outcome = this.o.store.offer(r.policies, r.errors, 'cluster');
    this.o.onReload?.(outcome);
    return outcome;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watched) if (w.retry) clearTimeout(w.retry);
    await Promise.all(this.watched.map((w) => w.informer.stop()));
  }
}
