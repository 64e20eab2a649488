// The admission webhook as a `governor serve` component: engine per policy set, namespace cache, Events, HTTPS on --webhook-port.
import { GovernanceEngine } from '../governance/engine.js';
import type { ActiveMigrationSource } from '../governance/types.js';
import { kubeEventRecorder, noopEventRecorder, type EventRecorder } from '../kube/events.js';
import { NamespaceCache, StaticNamespaces, type NamespaceLookup } from '../kube/namespaces.js';
import { namespaceInformer } from '../kube/namespace-informer.js';
import type { ComponentFactory, ServerComponent } from '../server/component.js';
import type { WebhookEventsMode } from '../server/options.js';
import type { PolicySet } from '../policy/policy-set.js';
import { readFile } from 'node:fs/promises';
import { RequestBudget } from '../server/budget.js';
import { createSecureServer, httpsComponent, listen, serverLimits } from '../server/https.js';
import { parseCaBundle } from '../tls/certs.js';
import { PemFileReloader, readTlsMaterial } from '../tls/serving.js';
import { mutateHandler, reviewFunction, validateHandler, type AdmissionEnvironment } from './handlers.js';
import { createWebhookListener } from './http.js';
import { withPolicyValidation } from './policy-review.js';

export interface WebhookDeps {
  /**
   * The migration engine's lookup for protect-migration-source and pinned-not-source, built per policy set
   * (src/adapter/migration-wiring.ts). Absent: no migration is running.
   */
  activeMigrationSourceFor?: (set: PolicySet) => ActiveMigrationSource;
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

/**
 * Whether the webhook writes Events. A caller of /validate chooses everything in the request, and an Event is a write
 * our ServiceAccount makes: by default only when the port requires client certificates, so only the API server can
 * cause one. `always` is for clusters that fence the port otherwise (a NetworkPolicy their network plugin enforces).
 */
export function eventsEnabled(mode: WebhookEventsMode, clientCertificatesRequired: boolean): boolean {
  return mode === 'always' || (mode === 'authenticated' && clientCertificatesRequired);
}

/** The webhook component (wired in src/components.ts). */
export function createWebhookComponent(deps: WebhookDeps = {}): ComponentFactory {
  return async (ctx, certFiles): Promise<ServerComponent> => {
    const o = ctx.options;
    const log = ctx.log.child({ component: 'webhook' });
    const kc = ctx.kubeConfig;
    let namespaces: NamespaceLookup;
    let cache: NamespaceCache | undefined;
    let events: EventRecorder = noopEventRecorder;
    const clientAuth = Boolean(o.webhookClientCaFile);
    const mode = o.webhookEvents ?? 'authenticated';
    const eventsOn = eventsEnabled(mode, clientAuth);
    if (deps.namespaces) {
      namespaces = deps.namespaces;
    } else if (kc) {
      cache = new NamespaceCache(namespaceInformer(kc), { log });
      namespaces = cache;
      if (eventsOn) events = kubeEventRecorder(kc, log, (reason) => ctx.metrics.eventsSuppressed.inc({ reason }));
      else {
        // Without client certificates anyone who reaches the port could have the ServiceAccount write Events: docs/security.md.
        log.info({ webhookEvents: mode }, 'no Events: the webhook does not authenticate its callers (--webhook-client-ca-file), or --webhook-events=never');
      }
      void cache.start();
    } else {
      namespaces = new StaticNamespaces();
      log.warn('no kubeconfig and not in a cluster: namespaceSelector and fromNamespace see no namespace labels; no Events');
    }
    // Without its namespace cache the webhook cannot evaluate namespaceSelector or fromNamespace: not ready until synced.
    ctx.readiness.add('webhook-namespace-cache', () => namespaces.ready() || 'the namespace cache has not synced yet');
    const skip = ctx.skipNamespaces;
    const engineFor = engineCache(skip, deps.activeMigrationSourceFor);
    const env: AdmissionEnvironment = { engine: () => engineFor(ctx.store.current()), namespaces, events, log, metrics: ctx.metrics, ...(o.reviewTimeoutMs !== undefined ? { reviewBudgetMs: o.reviewTimeoutMs } : {}) };
    const budget = new RequestBudget({
      ...(o.maxRequestBytesInflight ? { maxBytes: o.maxRequestBytesInflight } : {}),
      ...(o.maxReviewsInflight ? { maxRequests: o.maxReviewsInflight } : {}),
      onShed: (reason) => ctx.metrics.requestsShed.inc({ server: 'webhook', reason }),
    });
    const listener = createWebhookListener({
      mutate: reviewFunction('mutate', mutateHandler(env), env),
      // governor.io policy objects (webhook validate-policies.governor.io) share the path with workloads.
      validate: reviewFunction('validate', withPolicyValidation(validateHandler(env), log), env),
      readyz: (verbose) => ctx.readiness.answer(verbose),
      log,
      metrics: ctx.metrics,
      budget,
    });
    const clientCA = o.webhookClientCaFile ? parseCaBundle(await readFile(o.webhookClientCaFile, 'utf8'), o.webhookClientCaFile) : undefined;
    const server = createSecureServer(listener, { tls: await readTlsMaterial(certFiles), ...serverLimits(o), ...(clientCA ? { clientCA, requireClientCert: true } : {}) });
    // A rotated client CA (a ConfigMap or Secret update) reaches new connections without a restart.
    const caReloader = o.webhookClientCaFile ? new PemFileReloader(o.webhookClientCaFile, (pem) => server.setClientCA(parseCaBundle(pem, o.webhookClientCaFile!)), log) : undefined;
    await caReloader?.start();
    const port = await listen(server.server, o.webhookPort, o.bindAddress);
    log.info(
      { port, policies: ctx.store.current().governance.length, skipNamespaces: skip, namespaceCache: Boolean(cache), clientCertificates: clientAuth ? 'required' : 'not required', events: eventsOn && kc ? 'on' : 'off', maxRequestBytesInflight: budget.maxBytes, maxReviewsInflight: budget.maxRequests },
      'admission webhook serving',
    );
    return httpsComponent('webhook', server, port, async () => {
      caReloader?.stop();
      await cache?.stop();
    });
  };
}
