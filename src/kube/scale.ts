// Reads a workload's replica counts through the scale subresource: the cluster state every governor replica agrees on.
import { AppsV1Api, type KubeConfig, type V1Scale } from '@kubernetes/client-node';
import type { WorkloadRef } from '../policy/types.js';

export interface LiveScale {
  /** spec.replicas: what the HPA (or a person) last set. */
  readonly specReplicas: number;
  /** status.replicas: pods the controller currently runs. */
  readonly statusReplicas: number;
  /** status.readyReplicas (fakes only; the scale subresource has no such field, see ScaleReader.readReady). */
  readonly readyReplicas?: number;
}

export class ScaleReadError extends Error {
  override name = 'ScaleReadError';
}

/** readReady on a kind whose Ready pods are not read (no RBAC, no such field): a property of the kind, not a failure. */
export class ReadyUnsupportedError extends ScaleReadError {
  override name = 'ReadyUnsupportedError';
}

/** Contract: resolves with the counts or rejects with ScaleReadError (unsupported kind, not found, API down, timeout). */
export interface ScaleReader {
  read(namespace: string, target: WorkloadRef): Promise<LiveScale>;
  /** The workload's Ready pods (status.readyReplicas of a Deployment or StatefulSet); rejects like read. */
  readReady?(namespace: string, target: WorkloadRef): Promise<number>;
}

const SUPPORTED = ['Deployment', 'StatefulSet', 'ReplicaSet'] as const;

function toLive(s: V1Scale): LiveScale {
  return { specReplicas: s.spec?.replicas ?? 0, statusReplicas: s.status?.replicas ?? 0 };
}

export class KubeScaleReader implements ScaleReader {
  private readonly apps: AppsV1Api;
  constructor(
    kc: KubeConfig,
    private readonly timeoutMs = 2000,
  ) {
    this.apps = kc.makeApiClient(AppsV1Api);
  }

  async readReady(namespace: string, target: WorkloadRef): Promise<number> {
    const what = `${target.kind} ${namespace}/${target.name}`;
    // The server's RBAC has get on deployments and statefulsets (not replicasets): those are the kinds read here.
    if (target.apiVersion !== 'apps/v1' || (target.kind !== 'Deployment' && target.kind !== 'StatefulSet')) {
      throw new ReadyUnsupportedError(`cannot read the Ready pods of ${target.apiVersion} ${what}: supported are apps/v1 Deployment, StatefulSet`);
    }
    const param = { name: target.name, namespace };
    const call = target.kind === 'Deployment' ? this.apps.readNamespacedDeployment(param) : this.apps.readNamespacedStatefulSet(param);
    const o = await this.bounded(call, what);
    return o.status?.readyReplicas ?? 0;
  }

  private async bounded<T>(call: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ScaleReadError(`reading ${what} took longer than ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([call, timeout]);
    } catch (e) {
      if (e instanceof ScaleReadError) throw e;
      const code = (e as { code?: number }).code;
      throw new ScaleReadError(`reading ${what} failed${code ? ` (HTTP ${code})` : ''}: ${(e as Error).message?.split('\n')[0]}`, { cause: e });
    } finally {
      clearTimeout(timer);
      call.catch(() => {}); // the losing promise of the race must not become an unhandled rejection
    }
  }

  async read(namespace: string, target: WorkloadRef): Promise<LiveScale> {
    const what = `${target.kind} ${namespace}/${target.name}`;
    if (target.apiVersion !== 'apps/v1' || !(SUPPORTED as readonly string[]).includes(target.kind)) {
      throw new ScaleReadError(`cannot read the scale of ${target.apiVersion} ${what}: supported are apps/v1 ${SUPPORTED.join(', ')}`);
    }
    const param = { name: target.name, namespace };
    const call =
      target.kind === 'Deployment'
        ? this.apps.readNamespacedDeploymentScale(param)
        : target.kind === 'StatefulSet'
          ? this.apps.readNamespacedStatefulSetScale(param)
          : this.apps.readNamespacedReplicaSetScale(param);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ScaleReadError(`reading the scale of ${what} took longer than ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return toLive(await Promise.race([call, timeout]));
    } catch (e) {
      if (e instanceof ScaleReadError) throw e;
      const code = (e as { code?: number }).code;
      throw new ScaleReadError(`reading the scale of ${what} failed${code ? ` (HTTP ${code})` : ''}: ${(e as Error).message?.split('\n')[0]}`, { cause: e });
    } finally {
      clearTimeout(timer);
      call.catch(() => {}); // the losing promise of the race must not become an unhandled rejection
    }
  }
}

/** In-memory ScaleReader for tests: set counts per namespace/kind/name. */
export class FakeScaleReader implements ScaleReader {
  private readonly scales = new Map<string, LiveScale | Error>();
  reads = 0;
  set(namespace: string, target: Pick<WorkloadRef, 'kind' | 'name'>, v: number | LiveScale | Error): this {
    this.scales.set(`${namespace}/${target.kind}/${target.name}`, typeof v === 'number' ? { specReplicas: v, statusReplicas: v } : v);
    return this;
  }
  async read(namespace: string, target: WorkloadRef): Promise<LiveScale> {
    this.reads++;
    const v = this.scales.get(`${namespace}/${target.kind}/${target.name}`);
    if (v === undefined) throw new ScaleReadError(`${target.kind} ${namespace}/${target.name} not found`);
    if (v instanceof Error) throw v;
    return v;
  }
  async readReady(namespace: string, target: WorkloadRef): Promise<number> {
    const v = await this.read(namespace, target);
    return v.readyReplicas ?? v.statusReplicas;
  }
}
