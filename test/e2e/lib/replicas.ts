// Records spec.replicas of the Deployments in one namespace over time with a list + watch (admin kubeconfig). Watch
// events arrive in resourceVersion order, so the samples are every state the apiserver committed, not a poll that
// could miss a short one: an invariant checked on every sample holds for the cluster, not just for what we happened
// to see.
import { AppsV1Api, KubeConfig, Watch, type V1Deployment } from '@kubernetes/client-node';
import { waitFor } from './wait.js';

export interface ReplicaSample {
  /** Wall-clock ms when the event arrived. */
  readonly atMs: number;
  /** resourceVersion of the change (the list's for the first sample). */
  readonly resourceVersion: string;
  /** Deployment name → spec.replicas, after this change. */
  readonly replicas: Readonly<Record<string, number>>;
}

export class ReplicaRecorder {
  private readonly kc = new KubeConfig();
  private readonly samples: ReplicaSample[] = [];
  private abort: AbortController | undefined;
  private running = false;
  private restarts = 0;
  private lastError = '';

  constructor(
    kubeconfigFile: string,
    readonly namespace: string,
  ) {
    this.kc.loadFromFile(kubeconfigFile);
  }

  /** Lists, then watches from the list's resourceVersion; resolves once the initial state is recorded. */
  async start(): Promise<this> {
    if (this.running) return this;
    this.running = true;
    await this.listAndWatch();
    return this;
  }

  private async listAndWatch(): Promise<void> {
    const apps = this.kc.makeApiClient(AppsV1Api);
    const list = await apps.listNamespacedDeployment({ namespace: this.namespace });
    const state: Record<string, number> = {};
    for (const d of list.items) if (d.metadata?.name) state[d.metadata.name] = d.spec?.replicas ?? 0;
    const rv = list.metadata?.resourceVersion ?? '';
    this.push(rv, state);
    this.abort = await new Watch(this.kc).watch(
      `/apis/apps/v1/namespaces/${this.namespace}/deployments`,
      { resourceVersion: rv, allowWatchBookmarks: false },
      (phase: string, obj: V1Deployment) => {
        const name = obj.metadata?.name;
        if (!name) return;
        const next = { ...(this.samples.at(-1)?.replicas ?? {}) };
        if (phase === 'DELETED') delete next[name];
        else next[name] = obj.spec?.replicas ?? 0;
        this.push(obj.metadata?.resourceVersion ?? '', next);
      },
      (err: unknown) => {
        if (err) this.lastError = (err as Error).message ?? String(err);
        // The apiserver ends watches after a while; pick up again (a re-list records the state in between).
        if (this.running && this.restarts++ < 20) setTimeout(() => void this.listAndWatch().catch((e) => (this.lastError = (e as Error).message)), 200);
      },
    );
  }

  private push(resourceVersion: string, replicas: Record<string, number>): void {
    const prev = this.samples.at(-1)?.replicas;
    // Status-only updates leave spec.replicas alone: keep one sample per distinct state.
    if (prev && Object.keys(prev).length === Object.keys(replicas).length && Object.entries(replicas).every(([k, v]) => prev[k] === v)) return;
    this.samples.push({ atMs: Date.now(), resourceVersion, replicas });
  }

  stop(): void {
    this.running = false;
    this.abort?.abort();
  }

  latest(): ReplicaSample | undefined {
    return this.samples.at(-1);
  }

  /** The state at `sinceMs` (the last sample recorded at or before it) and every sample after. */
  since(sinceMs: number): ReplicaSample[] {
    // At or before: a caller that takes Date.now() right after waitFor() may share the millisecond of that sample.
    let start = 0;
    this.samples.forEach((s, i) => {
      if (s.atMs <= sinceMs) start = i;
    });
    return this.samples.slice(start);
  }

  /** Consecutive distinct values of one Deployment from `sinceMs` on (the first is the value at that time). */
  changes(name: string, sinceMs = 0): { atMs: number; replicas: number }[] {
    const out: { atMs: number; replicas: number }[] = [];
    for (const s of this.since(sinceMs)) {
      const r = s.replicas[name];
      if (r === undefined) continue;
      if (out.at(-1)?.replicas !== r) out.push({ atMs: Math.max(s.atMs, sinceMs), replicas: r });
    }
    return out;
  }

  /** Waits until every named Deployment has the given spec.replicas at once; returns that state. */
  async waitFor(expected: Readonly<Record<string, number>>, timeoutMs: number): Promise<ReplicaSample> {
    return waitFor(
      `spec.replicas ${JSON.stringify(expected)} in namespace ${this.namespace}`,
      async () => {
        const s = this.latest();
        const ok = Boolean(s && Object.entries(expected).every(([n, r]) => s.replicas[n] === r));
        return { done: ok, value: s, seen: s ? { replicas: s.replicas, watchRestarts: this.restarts, lastError: this.lastError || undefined } : 'no state yet' };
      },
      { timeoutMs, intervalMs: 50 },
    );
  }
}
