// The server components of `governor serve`, wired together: the adapter, the webhook (which asks the adapter's
// migration states which workloads are sources of running migrations) and KEDA's external scaler. `governor serve`
// and the tests that start servers build them here, so both run the same thing.
import type { ComponentFactory, GovernorOptions } from './main.js';
import { adapterComponent } from './adapter/component.js';
import { activeMigrationSourceFor } from './adapter/migration-wiring.js';
import { createWebhookComponent } from './admission/webhook.js';

/** The webhook with the migration lookup, as serve runs it. */
export const webhookComponent: ComponentFactory = createWebhookComponent({ activeMigrationSourceFor });

/** grpc-js and the proto load only when the scaler is asked for: every other start is without them. */
export const kedaComponent: ComponentFactory = async (ctx, certs) => (await import('./keda/component.js')).kedaScalerComponent(ctx, certs);

/** The components the options turn on, in serve's order. */
export function serveComponents(o: Pick<GovernorOptions, 'enableAdapter' | 'enableWebhook' | 'kedaScalerPort'>): ComponentFactory[] {
  return [...(o.enableAdapter ? [adapterComponent] : []), ...(o.enableWebhook ? [webhookComponent] : []), ...(o.kedaScalerPort !== undefined ? [kedaComponent] : [])];
}
