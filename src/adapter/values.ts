// The replica values of `governor serve`, one service per running governor (built by the composition root) shared by
// whatever publishes them: the external metrics API (src/adapter/component.ts) and KEDA's external scaler
// (src/keda/component.ts). One load cache and one decision per policy per interval, whichever asks.
import type { GovernorContext } from '../server/component.js';
import { KubeScaleReader } from '../kube/scale.js';
import { LoadCache } from '../sources/cache.js';
import { LoadSourceRouter } from '../sources/router.js';
import { CredentialResolver } from '../sources/credentials.js';
import { DecisionService } from './decisions.js';
import { PolicyMetricsProvider } from './policy-provider.js';
import { MigrationMetricsProvider } from './migration-provider.js';
import { withMigrations, type MigrationStates } from './migration-wiring.js';
import type { ExternalMetricsProvider } from './provider.js';

export class ReplicaValues {
  private built: { readonly provider: ExternalMetricsProvider; warmUp(): void; close(): Promise<void> } | undefined;

  constructor(
    private readonly ctx: GovernorContext,
    private readonly migrationStates: MigrationStates,
  ) {}

  /**
   * ScalingPolicies and MigrationPolicies behind one provider. Built on first use, so a governor that publishes no
   * values (the webhook alone) never contacts a load source.
   */
  provider(): ExternalMetricsProvider {
    this.built ??= this.build();
    return this.built.provider;
  }

  /**
   * Evaluates every ScalingPolicy once, if a publisher asked for the provider, so a missing source shows in the log
   * before the first HPA poll. Called by the composition root once the servers listen: at start-up the evaluation's
   * source queries (one per policy) must not delay listening.
   */
  warmUp(): void {
    this.built?.warmUp();
  }

  /** Stops what provider() started (once every publisher has stopped). */
  async close(): Promise<void> {
    const b = this.built;
    this.built = undefined;
    await b?.close();
  }

  private build(): { provider: ExternalMetricsProvider; warmUp(): void; close(): Promise<void> } {
    const { ctx } = this;
    const o = ctx.options;
    const kc = ctx.kubeConfig;
    const log = ctx.log.child({ component: 'adapter' });
    const credentials = new CredentialResolver({ policyFileDirs: o.sourceCredentialDirs ?? [], allowInsecureTls: Boolean(o.allowInsecureSourceTls) });
    const source = LoadSourceRouter.create({
      prometheusUrl: o.prometheusUrl,
      credentials,
      ...(o.prometheusAuth ? { prometheusAuth: o.prometheusAuth } : {}),
      ...(o.allowedSourceHosts?.length ? { allowedHosts: o.allowedSourceHosts } : {}),
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
    const served = withMigrations(ctx, this.migrationStates, scaling, { cache, decisions, ...(scale ? { scale } : {}), log });
    let warmed = false;
    return {
      provider: served.provider,
      warmUp() {
        if (warmed) return;
        warmed = true;
        void scaling.warmUp();
      },
      async close() {
        ctx.observations?.setScalingEvaluator(undefined);
        scaling.close();
        served.close();
        await credentials.close();
      },
    };
  }
}
