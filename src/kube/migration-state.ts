// Migration state on the cluster: a JSON annotation on the source workload, written with the object's resourceVersion
// as a precondition, so restarted or parallel governor replicas continue one migration; plus Events on both workloads.
import { KubernetesObjectApi, PatchStrategy, CoreV1Api, type KubeConfig, type KubernetesObject, type CoreV1Event } from '@kubernetes/client-node';
import type { MigrationPolicy, WorkloadRef } from '../policy/types.js';
import { apiStatus, readOrAbsent } from './api.js';
import type { PolicyStore } from '../policy/store.js';
import {
  activeMigrationSourceLookup,
  type MigrationKey,
  type MigrationPhase,
  type MigrationState,
  type MigrationStateStore,
  type StoredMigrationState,
} from '../scaling/migration.js';

export const MIGRATION_STATE_ANNOTATION = 'governor.io/migration-state';

const PHASES: ReadonlySet<string> = new Set(['Pending', 'Migrating', 'Paused', 'RollingBack', 'Completed', 'RolledBack']);

/** The annotation's JSON: readable with kubectl, times as RFC 3339. */
interface PersistedState {
  v: 1;
  policy: string;
  phase: MigrationPhase;
  sourceExact: number;
  base: number;
  capacity: number;
  startedAt: string;
  lastStepAt: string;
  lastBucket: number;
  resumeTo?: 'Migrating' | 'RollingBack';
}

export class MigrationStateError extends Error {
  override name = 'MigrationStateError';
}

export function encodeMigrationState(policy: string, s: MigrationState): string {
  const p: PersistedState = {
    v: 1,
    policy,
    phase: s.phase,
    sourceExact: s.sourceExact,
    base: s.base,
    capacity: s.capacity,
    startedAt: new Date(s.startedAtMs).toISOString(),
    lastStepAt: new Date(s.lastStepAtMs).toISOString(),
    lastBucket: s.lastBucket,
    ...(s.resumeTo ? { resumeTo: s.resumeTo } : {}),
  };
  return JSON.stringify(p);
}

/** Parses the annotation; throws MigrationStateError naming what is wrong (a hand-edited annotation must not crash anything). */
export function decodeMigrationState(text: string): { policy: string; state: MigrationState } {
  let o: any;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new MigrationStateError(`${MIGRATION_STATE_ANNOTATION} is not JSON: ${(e as Error).message}`);
  }
  const num = (k: string, min = 0) => {
    if (typeof o?.[k] !== 'number' || !Number.isFinite(o[k]) || o[k] < min) throw new MigrationStateError(`${MIGRATION_STATE_ANNOTATION}: ${k} must be a number >= ${min}`);
    return o[k] as number;
  };
  const time = (k: string) => {
    const t = typeof o?.[k] === 'string' ? Date.parse(o[k]) : Number.NaN;
    if (!Number.isFinite(t)) throw new MigrationStateError(`${MIGRATION_STATE_ANNOTATION}: ${k} must be an RFC 3339 time`);
    return t;
  };
  if (o?.v !== 1) throw new MigrationStateError(`${MIGRATION_STATE_ANNOTATION}: unknown version ${JSON.stringify(o?.v)}`);
  if (typeof o.policy !== 'string' || !o.policy) throw new MigrationStateError(`${MIGRATION_STATE_ANNOTATION}: policy is missing`);
  if (!PHASES.has(o.phase)) throw new MigrationStateError(`${MIGRATION_STATE_ANNOTATION}: unknown phase ${JSON.stringify(o.phase)}`);
  if (o.resumeTo !== undefined && o.resumeTo !== 'Migrating' && o.resumeTo !== 'RollingBack') throw new MigrationStateError(`${MIGRATION_STATE_ANNOTATION}: bad resumeTo`);
  const state: MigrationState = {
    phase: o.phase,
    sourceExact: num('sourceExact'),
    base: num('base'),
    capacity: num('capacity'),
    startedAtMs: time('startedAt'),
    lastStepAtMs: time('lastStepAt'),
    lastBucket: num('lastBucket', Number.MIN_SAFE_INTEGER),
    ...(o.resumeTo ? { resumeTo: o.resumeTo } : {}),
  };
  return { policy: o.policy, state };
}

/** A workload as the store needs it. */
export interface WorkloadObject {
  readonly annotations: Readonly<Record<string, string>>;
  readonly resourceVersion: string;
  readonly uid?: string;
  /** spec.replicas */
  readonly replicas?: number;
}

/** 409 from the API server: the resourceVersion precondition failed. */
export class WorkloadConflictError extends Error {
  override name = 'WorkloadConflictError';
}
export class WorkloadNotFoundError extends Error {
  override name = 'WorkloadNotFoundError';
}
/** The API server refused or could not be reached; the message says which workload and the HTTP code, `cause` the rest. */
export class WorkloadApiError extends Error {
  override name = 'WorkloadApiError';
}

/** The few workload calls the state store and `governor migrate` make; KubeWorkloadApi talks to the cluster, FakeWorkloadApi to memory. */
export interface WorkloadApi {
  /** Rejects with WorkloadNotFoundError when the workload does not exist. */
  get(namespace: string, ref: WorkloadRef): Promise<WorkloadObject>;
  /** Sets (string) or removes (null) annotations if the object is still at resourceVersion; WorkloadConflictError otherwise. */
  annotate(namespace: string, ref: WorkloadRef, annotations: Record<string, string | null>, resourceVersion: string): Promise<void>;
  /** Creates a core/v1 Event about the workload and waits for the API server's answer. */
  event(namespace: string, ref: WorkloadRef, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** MigrationStateStore on the source workload's annotation. A state written by another policy is not this one's. */
export class KubeMigrationStateStore implements MigrationStateStore {
  constructor(private readonly api: WorkloadApi) {}

  async read(key: MigrationKey): Promise<StoredMigrationState> {
    const w = await this.api.get(key.namespace, withApiVersion(key.source));
    const text = w.annotations[MIGRATION_STATE_ANNOTATION];
    if (!text) return { version: w.resourceVersion };
    const d = decodeMigrationState(text);
    if (d.policy !== key.name) {
      throw new MigrationStateError(`${key.source.kind} ${key.namespace}/${key.source.name} carries the state of MigrationPolicy ${d.policy}, not ${key.name}: a workload can be the source of one migration at a time`);
    }
    return { state: d.state, version: w.resourceVersion };
  }

  async write(key: MigrationKey, state: MigrationState, version: string | undefined): Promise<boolean> {
    if (version === undefined) return false;
    try {
      await this.api.annotate(key.namespace, withApiVersion(key.source), { [MIGRATION_STATE_ANNOTATION]: encodeMigrationState(key.name, state) }, version);
      return true;
    } catch (e) {
      if (e instanceof WorkloadConflictError) return false;
      throw e;
    }
  }
}

function withApiVersion(ref: { apiVersion?: string; kind: string; name: string }): WorkloadRef {
  return { apiVersion: ref.apiVersion ?? 'apps/v1', kind: ref.kind, name: ref.name };
}

function apiError(what: string, namespace: string, ref: WorkloadRef, e: unknown): WorkloadApiError {
  const code = apiStatus(e);
  return new WorkloadApiError(`${what} ${ref.kind} ${namespace}/${ref.name}: ${typeof code === 'number' ? `HTTP ${code}` : 'the API server is unreachable'}`, { cause: e });
}

/** WorkloadApi over client-node: generic objects (any kind with metadata), merge patches with a resourceVersion precondition. */
export class KubeWorkloadApi implements WorkloadApi {
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;
  constructor(
    kc: KubeConfig,
    private readonly component = 'kube-governor',
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async get(namespace: string, ref: WorkloadRef): Promise<WorkloadObject> {
    const o = (await readOrAbsent(() => this.objects.read({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace } })).catch((e: unknown) => {
      throw apiError('cannot read', namespace, ref, e);
    })) as (KubernetesObject & { spec?: { replicas?: number } }) | undefined;
    if (!o) throw new WorkloadNotFoundError(`${ref.kind} ${namespace}/${ref.name} not found`);
    return {
      annotations: o.metadata?.annotations ?? {},
      resourceVersion: o.metadata?.resourceVersion ?? '',
      ...(o.metadata?.uid ? { uid: o.metadata.uid } : {}),
      ...(typeof o.spec?.replicas === 'number' ? { replicas: o.spec.replicas } : {}),
    };
  }

  async annotate(namespace: string, ref: WorkloadRef, annotations: Record<string, string | null>, resourceVersion: string): Promise<void> {
    // A merge patch that carries metadata.resourceVersion is rejected with 409 when the object changed since the read.
    const patch = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace, resourceVersion, annotations } };
    try {
      await this.objects.patch(patch as KubernetesObject, undefined, undefined, this.component, undefined, PatchStrategy.MergePatch);
    } catch (e) {
      const code = apiStatus(e);
      if (code === 409) throw new WorkloadConflictError(`${ref.kind} ${namespace}/${ref.name} changed since it was read`);
      if (code === 404) throw new WorkloadNotFoundError(`${ref.kind} ${namespace}/${ref.name} not found`);
      throw apiError('cannot annotate', namespace, ref, e);
    }
  }

  async event(namespace: string, ref: WorkloadRef, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const w = await this.get(namespace, ref).catch(() => undefined);
    const now = new Date();
    const body: CoreV1Event = {
      metadata: { generateName: `${ref.name}.`, namespace },
      involvedObject: { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, namespace, ...(w?.uid ? { uid: w.uid } : {}) },
      type,
      reason,
      message,
      source: { component: this.component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    await this.core.createNamespacedEvent({ namespace, body });
  }
}

/** In-memory workloads for tests; resourceVersion increments on every change, like the API server's. */
export class FakeWorkloadApi implements WorkloadApi {
  private readonly objects = new Map<string, { annotations: Record<string, string>; resourceVersion: number; replicas?: number }>();
  private rv = 100;
  readonly events: { namespace: string; kind: string; name: string; type: string; reason: string; message: string }[] = [];
  private key(ns: string, ref: Pick<WorkloadRef, 'kind' | 'name'>) {
    return `${ns}/${ref.kind}/${ref.name}`;
  }
  /** Creates or replaces a workload. */
  put(namespace: string, ref: Pick<WorkloadRef, 'kind' | 'name'>, replicas: number, annotations: Record<string, string> = {}): this {
    this.objects.set(this.key(namespace, ref), { annotations: { ...annotations }, resourceVersion: ++this.rv, replicas });
    return this;
  }
  /** Another writer (the HPA scaling it, a status update) bumps the version. */
  touch(namespace: string, ref: Pick<WorkloadRef, 'kind' | 'name'>, replicas?: number): void {
    const o = this.objects.get(this.key(namespace, ref));
    if (!o) throw new WorkloadNotFoundError('not found');
    o.resourceVersion = ++this.rv;
    if (replicas !== undefined) o.replicas = replicas;
  }
  async get(namespace: string, ref: WorkloadRef): Promise<WorkloadObject> {
    const o = this.objects.get(this.key(namespace, ref));
    if (!o) throw new WorkloadNotFoundError(`${ref.kind} ${namespace}/${ref.name} not found`);
    return { annotations: { ...o.annotations }, resourceVersion: String(o.resourceVersion), ...(o.replicas !== undefined ? { replicas: o.replicas } : {}) };
  }
  async annotate(namespace: string, ref: WorkloadRef, annotations: Record<string, string | null>, resourceVersion: string): Promise<void> {
    const o = this.objects.get(this.key(namespace, ref));
    if (!o) throw new WorkloadNotFoundError(`${ref.kind} ${namespace}/${ref.name} not found`);
    if (String(o.resourceVersion) !== resourceVersion) throw new WorkloadConflictError('conflict');
    for (const [k, v] of Object.entries(annotations)) {
      if (v === null) delete o.annotations[k];
      else o.annotations[k] = v;
    }
    o.resourceVersion = ++this.rv;
  }
  async event(namespace: string, ref: WorkloadRef, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    this.events.push({ namespace, kind: ref.kind, name: ref.name, type, reason, message });
  }
}

/**
 * The latest known state of every migration, refreshed from the cluster, for callers that must answer synchronously
 * (the admission webhook). States the adapter computes are offered too, so the cache is as fresh as the last HPA poll.
 */
export class MigrationStateCache {
  private readonly states = new Map<string, MigrationState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly policies: () => readonly MigrationPolicy[],
    private readonly store?: MigrationStateStore,
    private readonly onError?: (policy: MigrationPolicy, err: Error) => void,
  ) {}

  private static key(namespace: string, kind: string, name: string) {
    return `${namespace}/${kind}/${name}`;
  }

  /** What is known for a source workload. */
  get(namespace: string, kind: string, name: string): MigrationState | undefined {
    return this.states.get(MigrationStateCache.key(namespace, kind, name));
  }

  offer(p: Pick<MigrationPolicy, 'namespace' | 'source'>, state: MigrationState): void {
    this.states.set(MigrationStateCache.key(p.namespace, p.source.kind, p.source.name), state);
  }

  /** Reads every migration's state from the store (failures keep the last known state and are reported). */
  async refresh(): Promise<void> {
    if (!this.store) return;
    const list = this.policies();
    const keep = new Set(list.map((p) => MigrationStateCache.key(p.namespace, p.source.kind, p.source.name)));
    for (const k of this.states.keys()) if (!keep.has(k)) this.states.delete(k);
    await Promise.all(
      list.map(async (p) => {
        try {
          const r = await this.store!.read({ namespace: p.namespace, name: p.name, source: p.source });
          if (r.state) this.offer(p, r.state);
        } catch (e) {
          this.onError?.(p, e as Error);
        }
      }),
    );
  }

  start(intervalMs = 30_000): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/**
 * The `activeMigrationSource(namespace, kind, name)` lookup the webhook injects: the MigrationPolicy whose running
 * migration drains this workload, else undefined. Pure over the current PolicySet and the cached states.
 */
export function activeMigrationSource(store: Pick<PolicyStore, 'current'>, cache: Pick<MigrationStateCache, 'get'>): (namespace: string, kind: string, name: string) => string | undefined {
  return (namespace, kind, name) => activeMigrationSourceLookup(store.current().migration, (ns, k, n) => cache.get(ns, k, n))(namespace, kind, name);
}
