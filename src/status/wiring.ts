// Builds the policy status writer for `governor serve`: Lease election in the governor namespace, informers, the
// status patcher and the controller. Without a cluster: metrics and logs only.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeLeaseApi, LeaseElector } from '../kube/lease-elector.js';
import { KubePolicyObjects, KubeStatusPatcher } from '../kube/policy-status-api.js';
import type { Logger } from '../observability/log.js';
import type { GovernorMetrics } from '../observability/metrics.js';
import type { PolicyStore } from '../policy/store.js';
import type { PolicyObservations } from './observations.js';
import { PolicyStatusController } from './status-controller.js';

/** The Lease one replica holds to write policy status. */
export const STATUS_LEASE_NAME = 'kube-governor-status';

export interface PolicyStatusDeps {
  readonly kubeConfig?: KubeConfig;
  /** Where the Lease lives (--service-namespace). */
  readonly namespace: string;
  readonly store: PolicyStore;
  readonly observations: PolicyObservations;
  readonly log: Logger;
  readonly metrics: GovernorMetrics;
  /** Reconcile period (default 5 s). */
  readonly intervalMs?: number;
}

export async function startPolicyStatus(d: PolicyStatusDeps): Promise<{ stop(): Promise<void> }> {
  const log = d.log.child({ component: 'policy-status' });
  let elector: LeaseElector | undefined;
  let objects: KubePolicyObjects | undefined;
  if (d.kubeConfig) {
    elector = new LeaseElector({
      api: new KubeLeaseApi(d.kubeConfig, d.namespace, STATUS_LEASE_NAME),
      identity: `${hostname()}_${randomUUID().slice(0, 8)}`,
      log,
      onChange: (leading) => d.metrics.statusLeader.set(leading ? 1 : 0),
    });
    objects = new KubePolicyObjects(d.kubeConfig, log);
    await objects.start();
    elector.start();
  }
  d.metrics.statusLeader.set(0);
  const controller = new PolicyStatusController({
    store: d.store,
    observations: d.observations,
    ...(objects ? { objects, patcher: new KubeStatusPatcher(d.kubeConfig!) } : {}),
    isLeader: () => elector?.isLeader() ?? false,
    log,
    metrics: d.metrics,
  });
  controller.start(d.intervalMs ?? 5000);
  return {
    async stop() {
      await controller.stop();
      await elector?.stop();
      await objects?.stop();
    },
  };
}
