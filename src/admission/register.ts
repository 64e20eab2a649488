// Registers the admission webhook as the `webhook` component of `governor serve` (imported by src/cli.ts for this side effect).
import { serveComponents } from '../cli/serve.js';
import { createWebhookComponent, type WebhookHooks } from './webhook.js';

/** Set by the migration engine's registration to inject its lookup (see WebhookHooks). */
export const webhookHooks: WebhookHooks = {};

// The factory reads webhookHooks when the component starts, so a registration imported later still counts.
serveComponents.webhook = (ctx, certs) => createWebhookComponent(webhookHooks)(ctx, certs);
