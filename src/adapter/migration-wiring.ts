// Wires MigrationPolicies into `governor serve`: the migration provider next to the ScalingPolicy provider, and one
// state cache per running governor shared with the webhook (activeMigrationSource for protect-migration-source).
import type { KubeConfig } from '@kubernetes/client-node';
import type { PolicySet } from '../policy/policy-set.js';
import type { ActiveMigrationSource } from '../governance/types.js';
import { KubeMigrationStateStore, KubeWorkloadApi, MigrationStateCache } from '../kube/migration-state.js';
import type { ScaleReader } from '../kube/scale.js';
import { serverKubeConfig } from '../kube/client.js';
import type { GovernorContext } from '../main.js';
import type { Logger } from '../observability/log.js';
import { activeMigrationSourceLookup, FakeMigrationStateStore, type MigrationStateStore } from '../scaling/migration.js';
import type { LoadCache } from '../sources/cache.js';
import type { DecisionService } from './decisions.js';
import { CompositeMetricsProvider, MigrationMetricsProvider } from './migration-provider.js';
import type { ExternalMetricsProvider } from './provider.js';

interface Shared {
  readonly store: MigrationStateStore;
  readonly states: MigrationStateCache;
  readonly persistent: boolean;
}

const shared = new WeakMap<GovernorContext, Shared>();

/**
 * The state store and cache of one running governor (created on first use). On a cluster the state lives on the source
 * workloads and the cache re-reads it every 30 s; without one it is in memory only, which is said loudly.
 */
export function migrationStatesFor(ctx: GovernorContext, kc: KubeConfig | undefined = serverKubeConfig(ctx.options)): Shared {
  let s = shared.get(ctx);
  if (s) return s;
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
  s = { store, states, persistent: Boolean(kc) };
  // Policy status shows each migration's phase from the same cache.
  ctx.observations?.setMigrationStates((p) => states.get(p.namespace, p.source.kind, p.source.name));
  shared.set(ctx, s);
  return s;
}

/** The webhook asks, per policy set, which workloads are sources of running migrations (wired in src/components.ts). */
export function activeMigrationSourceFor(set: PolicySet, ctx: GovernorContext): ActiveMigrationSource {
  const { states } = migrationStatesFor(ctx);
  return activeMigrationSourceLookup(set.migration, (ns, kind, name) => states.get(ns, kind, name));
}

export interface MigrationWiringDeps {
  readonly cache: LoadCache;
  readonly decisions: DecisionService;
  readonly scale?: ScaleReader;
  readonly kc?: KubeConfig;
  readonly log: Logger;
}

/** The ScalingPolicy provider plus MigrationPolicies: what the adapter serves. */
export function withMigrations(ctx: GovernorContext, scaling: ExternalMetricsProvider, d: MigrationWiringDeps): { provider: ExternalMetricsProvider; close(): void } {
  const { store, states } = migrationStatesFor(ctx, d.kc);
  const migrations = new MigrationMetricsProvider({
    store: ctx.store,
    cache: d.cache,
    stateStore: store,
    states,
    decisions: d.decisions,
    ...(d.scale ? { scale: d.scale } : {}),
    log: d.log,
    metrics: ctx.metrics,
  });
  return {
    provider: new CompositeMetricsProvider(scaling, migrations),
    close() {
      migrations.close();
      states.stop();
    },
  };
}
