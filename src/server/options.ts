// The options of `governor serve`: what the flags (src/cli/serve.ts) and the tests that start servers configure.
import type { RequestHeaderSettings } from '../kube/extension-auth.js';
import type { SourceAuth } from '../policy/types.js';

export interface GovernorOptions extends RequestHeaderSettings {
  readonly policies: readonly string[];
  readonly bindAddress: string;
  readonly securePort: number;
  readonly webhookPort: number;
  readonly metricsPort: number;
  readonly tlsCertFile?: string;
  readonly tlsPrivateKeyFile?: string;
  readonly certDir: string;
  readonly serviceName: string;
  readonly serviceNamespace: string;
  readonly requestheaderClientCaFile?: string;
  readonly clientCaFile?: string;
  readonly prometheusUrl: string;
  /** Hosts load sources may contact (`*`, exact, `*.suffix`); empty: any. */
  readonly allowedSourceHosts?: readonly string[];
  /** The --prometheus-* credentials, TLS and headers, sent to --prometheus-url only. */
  readonly prometheusAuth?: SourceAuth;
  /** Directories under which files named by a policy's load block must lie; empty: policies may not name files. */
  readonly sourceCredentialDirs?: readonly string[];
  /** Let policies set tls.insecureSkipVerify. */
  readonly allowInsecureSourceTls?: boolean;
  readonly kubeconfig?: string;
  /** --context: the context of --kubeconfig to use (default: its current-context). */
  readonly kubeContext?: string;
  readonly insecureDev: boolean;
  readonly enableAdapter: boolean;
  readonly enableWebhook: boolean;
  /** Port of KEDA's external scaler (gRPC); absent: not served. */
  readonly kedaScalerPort?: number;
  /** Serve the KEDA scaler over TLS with the serving certificate. */
  readonly kedaScalerTls?: boolean;
  /** Require KEDA's client certificate, signed by this CA (implies TLS). */
  readonly kedaScalerClientCaFile?: string;
  readonly policyPollMs: number;
  /** Also load governor.io policy objects from the cluster when a kubeconfig or in-cluster config exists. */
  readonly clusterPolicies?: boolean;
  readonly shutdownGraceMs: number;
  /** How often the adapter re-reads kube-system/extension-apiserver-authentication (default 60 s). */
  readonly authRefreshMs?: number;
  /** Webhook configuration / APIService templates the server registers itself once ready (none: no registration). */
  readonly registrationManifests?: readonly string[];
  /** CA bundle published as caBundle; default: the generated CA when the server made its own certificate. */
  readonly caBundleFile?: string;
  /** ClusterRole of the install that owns the registrations (uninstall garbage-collects them). */
  readonly registrationOwner?: string;
  readonly registrationIntervalMs?: number;
  /** How long one admission review may run (--review-timeout; default DEFAULT_REVIEW_BUDGET_MS). */
  readonly reviewTimeoutMs?: number;
  /** Per server: time for a whole request to arrive, for its headers, open connections (src/server/https.ts defaults). */
  readonly requestTimeoutMs?: number;
  readonly requestHeadersTimeoutMs?: number;
  readonly maxConnections?: number;
  /** The webhook's budget for request bodies being received (src/server/budget.ts defaults). */
  readonly maxRequestBytesInflight?: number;
  readonly maxReviewsInflight?: number;
  /** CA for the webhook's client certificates: when set, the webhook port refuses clients without one from it. */
  readonly webhookClientCaFile?: string;
  /**
   * When the webhook writes Events: `authenticated` (default) only when it requires client certificates, `always`,
   * or `never`. docs/security.md says why.
   */
  readonly webhookEvents?: WebhookEventsMode;
}

export type WebhookEventsMode = 'authenticated' | 'always' | 'never';
export const WEBHOOK_EVENTS_MODES: readonly WebhookEventsMode[] = ['authenticated', 'always', 'never'];
