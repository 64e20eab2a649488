// Wires MigrationPolicies into `governor serve`: the migration state of one running governor (built once by the
// composition root, shared by the adapter's migration provider, the webhook's protect-migration-source lookup and
// policy status) and the migration provider next to the ScalingPolicy provider.
import type { PolicySet } from '../policy/policy-set.js';
import type { ActiveMigrationSource } from '../governance/types.js';
import { KubeMigrationStateStore, KubeWorkloadApi, MigrationStateCache } from '../kube/migration-state.js';
import type { ScaleReader } from '../kube/scale.js';
import type { GovernorContext } from '../server/component.js';
import type { Logger } from '../observability/log.js';
import { activeMigrationSourceLookup, FakeMigrationStateStore, type MigrationStateStore } from '../scaling/migration.js';
import type { LoadCache } from '../sources/cache.js';
import type { DecisionService } from './decisions.js';
import { CompositeMetricsProvider, MigrationMetricsProvider } from './migration-provider.js';
import type { ExternalMetricsProvider } from './provider.js';

/** The migration state of one running governor. */
export interface MigrationStates {
  readonly store: MigrationStateStore;
  readonly states: MigrationStateCache;
  /** Which workloads are sources of running migrations, per policy set (the webhook builds it once per set). */
  activeMigrationSourceFor(set: PolicySet): ActiveMigrationSource;
  stop(): void;
}

/**
 * On a cluster the state lives on the source workloads and the cache re-reads it every 30 s; without one it is in
 * memory only, which is said loudly.
 */
export function createMigrationStates(ctx: Pick<GovernorContext, 'kubeConfig' | 'log' | 'store' | 'observations'>): MigrationStates {
  const kc = ctx.kubeConfig;
  const log = ctx.log.child({ component: 'migration' });
  const store: MigrationStateStore = kc ? new KubeMigrationStateStore(new KubeWorkloadApi(kc)) : new FakeMigrationStateStore();
  const states = new MigrationStateCache(
    () => ctx.store.current().migration,
    kc ? store : undefined,
    (p, e) => log.warn({ policy: `${p.namespace}/${p.name}`, err: e.message }, 'cannot read the migration state from the source workload'),
  );
  if (kc) states.start(30_000);
  else if (ctx.store.current().migration.length) {
    log.warn('no Kubernetes API: migration state is kept in memory only and does not survive a restart (local runs only)');
  }
  // Policy status shows each migration's phase from the same cache.
  ctx.observations?.setMigrationStates((p) => states.get(p.namespace, p.source.kind, p.source.name));
  const lookup = (ns: string, kind: string, name: string) => states.get(ns, kind, name);
  return {
    store,
    states,
    activeMigrationSourceFor: (set) => activeMigrationSourceLookup(set.migration, lookup),
    stop: () => states.stop(),
  };
}

export interface MigrationWiringDeps {
  readonly cache: LoadCache;
  readonly decisions: DecisionService;
  readonly scale?: ScaleReader;
  readonly log: Logger;
}

/** The ScalingPolicy provider plus MigrationPolicies: what the adapter serves. */
export function withMigrations(
  ctx: Pick<GovernorContext, 'store' | 'metrics'>,
  migrationStates: MigrationStates,
  scaling: ExternalMetricsProvider,
  d: MigrationWiringDeps,
): { provider: ExternalMetricsProvider; close(): void } {
  const migrations = new MigrationMetricsProvider({
    store: ctx.store,
    cache: d.cache,
    stateStore: migrationStates.store,
    states: migrationStates.states,
    decisions: d.decisions,
    ...(d.scale ? { scale: d.scale } : {}),
    log: d.log,
    metrics: ctx.metrics,
  });
  return {
    provider: new CompositeMetricsProvider(scaling, migrations),
    close: () => migrations.close(),
  };
}
