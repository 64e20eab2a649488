// The server components of `governor serve`, each given the services the composition root (src/main.ts) built once:
// the adapter and KEDA's external scaler publish the same replica values; the webhook asks the migration states which
// workloads are sources of running migrations. `governor serve` and the tests that start servers build them here, so
// both run the same thing.
import type { ServeComponent } from './main.js';
import type { GovernorOptions } from './server/options.js';
import { createAdapterComponent } from './adapter/component.js';
import { createWebhookComponent, type WebhookDeps } from './admission/webhook.js';

/** The external metrics adapter; `fastPath: false` serves every route through express (benches and parity tests). */
export const adapterComponentWith =
  (http: { readonly fastPath?: boolean } = {}): ServeComponent =>
  (s) =>
    createAdapterComponent({ values: s.replicaValues, ...http });

export const adapterComponent: ServeComponent = adapterComponentWith();

/** The webhook with the migration lookup; `namespaces` replaces the watch-backed namespace cache (tests). */
export const webhookComponentWith =
  (over: Pick<WebhookDeps, 'namespaces'> = {}): ServeComponent =>
  (s) =>
    createWebhookComponent({ activeMigrationSourceFor: (set) => s.migrationStates.activeMigrationSourceFor(set), ...over });

export const webhookComponent: ServeComponent = webhookComponentWith();

/** grpc-js and the proto load only when the scaler is asked for: every other start is without them. */
export const kedaComponent: ServeComponent = (s) => async (ctx, certs) => (await import('./keda/component.js')).createKedaScalerComponent({ values: s.replicaValues })(ctx, certs);

/** The components the options turn on, in serve's order. */
export function serveComponents(o: Pick<GovernorOptions, 'enableAdapter' | 'enableWebhook' | 'kedaScalerPort'>): ServeComponent[] {
  return [...(o.enableAdapter ? [adapterComponent] : []), ...(o.enableWebhook ? [webhookComponent] : []), ...(o.kedaScalerPort !== undefined ? [kedaComponent] : [])];
}
