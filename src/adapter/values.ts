// The replica values of `governor serve`, built once per running governor and shared by whatever publishes them: the
// external metrics API (src/adapter/component.ts) and KEDA's external scaler (src/keda/component.ts). One load cache
// and one decision per policy per interval, whichever asks.
import type { KubeConfig } from '@kubernetes/client-node';
import type { GovernorContext } from '../main.js';
import type { Logger } from '../observability/log.js';
import { KubeScaleReader } from '../kube/scale.js';
import { LoadCache } from '../sources/cache.js';
import { LoadSourceRouter } from '../sources/router.js';
import { CredentialResolver } from '../sources/credentials.js';
import { DecisionService } from './decisions.js';
import { PolicyMetricsProvider } from './policy-provider.js';
import { MigrationMetricsProvider } from './migration-provider.js';
import { withMigrations } from './migration-wiring.js';
import type { ExternalMetricsProvider } from './provider.js';

export interface ReplicaValues {
  /** ScalingPolicies and MigrationPolicies behind one provider. */
  readonly provider: ExternalMetricsProvider;
  /** Each user releases once; the last release stops the shared pieces. */
  release(): Promise<void>;
}

interface Shared {
  readonly provider: ExternalMetricsProvider;
  users: number;
  close(): Promise<void>;
}

const shared = new WeakMap<GovernorContext, Shared>();

/** The values of one running governor (built on first use; `log` is the first user's). */
export function acquireReplicaValues(ctx: GovernorContext, kc: KubeConfig | undefined, log: Logger): ReplicaValues {
  let s = shared.get(ctx);
  if (!s) {
    s = build(ctx, kc, log);
    shared.set(ctx, s);
  }
  s.users++;
  const entry = s;
  let released = false;
  return {
    provider: entry.provider,
    async release() {
      if (released) return;
      released = true;
      if (--entry.users > 0) return;
      shared.delete(ctx);
      await entry.close();
    },
  };
}

function build(ctx: GovernorContext, kc: KubeConfig | undefined, log: Logger): Shared {
  const o = ctx.options;
  const allowedHosts = o.allowedSourceHosts?.length ? o.allowedSourceHosts : (process.env.GOVERNOR_ALLOWED_SOURCE_HOSTS ?? '').split(',').filter(Boolean);
  const credentials = new CredentialResolver({ policyFileDirs: o.sourceCredentialDirs ?? [], allowInsecureTls: Boolean(o.allowInsecureSourceTls) });
  const source = LoadSourceRouter.create({
    prometheusUrl: o.prometheusUrl,
    credentials,
    ...(o.prometheusAuth ? { prometheusAuth: o.prometheusAuth } : {}),
    ...(allowedHosts.length ? { allowedHosts } : {}),
  });
  const m = ctx.metrics;
  const cache = new LoadCache(source, {
    onQuery(q) {
      const labels = { source: q.load.type, policy: q.key };
      m.sourceQueries.inc(labels);
      m.sourceQueryDuration.observe({ source: q.load.type }, q.durationMs / 1000);
      if (!q.ok) m.sourceErrors.inc({ ...labels, reason: q.reason ?? 'internal' });
    },
  });
  const scale = kc ? new KubeScaleReader(kc) : undefined;
  const decisions = new DecisionService({ cache, ...(scale ? { scale } : {}), log, metrics: m, ...(ctx.observations ? { observations: ctx.observations } : {}) });
  // The status writer evaluates policies no HPA asked this replica about (shared with HPA requests: one per interval).
  ctx.observations?.setScalingEvaluator((p) => decisions.decide(p));
  const scaling = new PolicyMetricsProvider(ctx.store, decisions, (set) =>
    cache.retain(new Set([...set.scaling.map((p) => `${p.namespace}/${p.name}`), ...MigrationMetricsProvider.cacheKeys(set)])),
  );
  // MigrationPolicies (source/target values) are served next to ScalingPolicies.
  const served = withMigrations(ctx, scaling, { cache, decisions, ...(scale ? { scale } : {}), ...(kc ? { kc } : {}), log });
  void scaling.warmUp();
  return {
    provider: served.provider,
    users: 0,
    async close() {
      ctx.observations?.setScalingEvaluator(undefined);
      scaling.close();
      served.close();
      await credentials.close();
    },
  };
}
