// The admission webhook as a `governor serve` component: engine per policy set, namespace cache, Events, HTTPS on --webhook-port.
import { GovernanceEngine } from '../governance/engine.js';
import type { ActiveMigrationSource } from '../governance/types.js';
import { kubeEventRecorder, noopEventRecorder, type EventRecorder } from '../kube/events.js';
import { loadKubeConfig } from '../kube/client.js';
import { NamespaceCache, namespaceInformer, StaticNamespaces, type NamespaceLookup } from '../kube/namespaces.js';
import type { ComponentFactory, GovernorContext, ServerComponent } from '../main.js';
import type { PolicySet } from '../policy/policy-set.js';
import { createSecureServer, listen } from '../server/https.js';
import { readTlsMaterial } from '../tls/serving.js';
import { mutateHandler, reviewFunction, validateHandler, type AdmissionEnvironment } from './handlers.js';
import { createWebhookListener } from './http.js';
import { withPolicyValidation } from './policy-review.js';

/** Namespaces the webhook never evaluates besides its own (--service-namespace), so the cluster cannot be locked out. */
export const ALWAYS_SKIPPED_NAMESPACES = ['kube-system'] as const;

export interface WebhookHooks {
  /**
   * The migration engine's lookup for protect-migration-source and pinned-not-source, built per policy set
   * (e.g. activeMigrationSourceLookup(set.migration, states)). Absent: no migration is running.
   */
  activeMigrationSourceFor?: (set: PolicySet, ctx: GovernorContext) => ActiveMigrationSource;
  /** The namespace lookup to use instead of a watch-backed cache (tests); its ready() gates readiness. */
  namespaces?: NamespaceLookup;
}

/** Compiles the engine once per policy set; requests only read it. */
export function engineCache(skipNamespaces: readonly string[], lookupFor?: (set: PolicySet) => ActiveMigrationSource): (set: PolicySet) => GovernanceEngine {
  let last: { set: PolicySet; engine: GovernanceEngine } | undefined;
  return (set) => {
    if (last?.set !== set) {
      const lookup = lookupFor?.(set);
      last = { set, engine: new GovernanceEngine(set.governance, { skipNamespaces, ...(lookup ? { activeMigrationSource: lookup } : {}) }) };
    }
    return last.engine;
  };
}

export function createWebhookComponent(hooks: WebhookHooks = {}): ComponentFactory {
  return async (ctx, certFiles): Promise<ServerComponent> => {
    const o = ctx.options;
    const log = ctx.log.child({ component: 'webhook' });
    const kc = loadKubeConfig(o.kubeconfig);
    let namespaces: NamespaceLookup;
    let cache: NamespaceCache | undefined;
    let events: EventRecorder = noopEventRecorder;
    if (hooks.namespaces) {
      namespaces = hooks.namespaces;
    } else if (kc) {
      cache = new NamespaceCache(namespaceInformer(kc), { log });
      namespaces = cache;
      events = kubeEventRecorder(kc, log);
      void cache.start();
    } else {
      namespaces = new StaticNamespaces();
      log.warn('no kubeconfig and not in a cluster: namespaceSelector and fromNamespace see no namespace labels; no Events');
    }
    // Without its namespace cache the webhook cannot evaluate namespaceSelector or fromNamespace: not ready until synced.
    ctx.readiness.add('webhook-namespace-cache', () => namespaces.ready() || 'the namespace cache has not synced yet');
    const skip = [...new Set([...ALWAYS_SKIPPED_NAMESPACES, o.serviceNamespace])];
    const engineFor = engineCache(skip, hooks.activeMigrationSourceFor ? (set) => hooks.activeMigrationSourceFor!(set, ctx) : undefined);
    const env: AdmissionEnvironment = { engine: () => engineFor(ctx.store.current()), namespaces, events, log, metrics: ctx.metrics, ...(o.reviewTimeoutMs !== undefined ? { reviewBudgetMs: o.reviewTimeoutMs } : {}) };
    const listener = createWebhookListener({
      mutate: reviewFunction('mutate', mutateHandler(env), env),
      // governor.io policy objects (webhook validate-policies.governor.io) share the path with workloads.
      validate: reviewFunction('validate', withPolicyValidation(validateHandler(env), log), env),
      readyz: (verbose) => ctx.readiness.answer(verbose),
      log,
      metrics: ctx.metrics,
    });
    const server = createSecureServer(listener, { tls: await readTlsMaterial(certFiles) });
    const port = await listen(server.server, o.webhookPort, o.bindAddress);
    log.info({ port, policies: ctx.store.current().governance.length, skipNamespaces: skip, namespaceCache: Boolean(cache) }, 'admission webhook serving');
    return {
      name: 'webhook',
      server,
      port,
      async stop() {
        await cache?.stop();
      },
    };
  };
}
