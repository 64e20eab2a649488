// `governor serve`: flags named as Kubernetes extension API servers name them, mapped onto GovernorOptions.
import type { Command } from 'commander';
import { createLogger, flushLog } from '../observability/log.js';
import { parseDuration } from '../common/duration.js';
import { durationFlag } from './conventions.js';
import { startGovernor } from '../main.js';
import { WEBHOOK_EVENTS_MODES, type GovernorOptions, type WebhookEventsMode } from '../server/options.js';
import { REQUESTHEADER_DEFAULTS } from '../kube/extension-auth.js';
import { prometheusDefaults } from '../sources/prometheus-defaults.js';
import { DEFAULT_MAX_INFLIGHT_BYTES, DEFAULT_MAX_INFLIGHT_REVIEWS } from '../server/budget.js';
import { HEADERS_TIMEOUT_MS, MAX_CONNECTIONS, REQUEST_TIMEOUT_MS } from '../server/https.js';
import { ConfigError } from '../common/errors.js';
import { serveComponents } from '../components.js';

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`"${v}" is not a port number`);
  return n;
};

/** --review-timeout: a Go duration ("500ms", "1s"), in ms; above zero and at most 10 s. */
export const parseReviewTimeout = (v: string): number => {
  const ms = parseDuration(v);
  if (!(ms > 0 && ms <= 10_000)) throw new ConfigError(`--review-timeout "${v}" must be above 0 and at most 10s (the API server waits at most 30s, our webhooks 3-5s)`);
  return ms;
};
const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`"${v}" is not a positive whole number`);
  return n;
};
const eventsMode = (v: string): WebhookEventsMode => {
  if (!(WEBHOOK_EVENTS_MODES as readonly string[]).includes(v)) throw new ConfigError(`--webhook-events is one of ${WEBHOOK_EVENTS_MODES.join(', ')} (got "${v}")`);
  return v as WebhookEventsMode;
};


export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the external metrics adapter and the admission webhook')
    .option('--policies <path>', 'policy file or directory (repeatable, comma-separated)', list)
    .option('--bind-address <ip>', 'address to listen on', '0.0.0.0')
    .option('--secure-port <port>', 'HTTPS port of the external metrics API', int, 6443)
    .option('--webhook-port <port>', 'HTTPS port of the admission webhook', int, 8443)
    .option('--metrics-port <port>', 'plain HTTP port for /metrics', int, 9100)
    .option('--tls-cert-file <file>', 'serving certificate (PEM); generated into --cert-dir when absent')
    .option('--tls-private-key-file <file>', 'serving key (PEM)')
    .option('--cert-dir <dir>', 'where generated certificates go', './.cert-dir')
    .option('--service-name <name>', 'Service name (for generated certificate SANs)', 'kube-governor')
    .option('--service-namespace <ns>', 'Service namespace (for generated certificate SANs)', 'kube-governor')
    .option('--requestheader-client-ca-file <file>', 'CA that signs the aggregator front-proxy client certificate')
    .option('--requestheader-allowed-names <names>', 'allowed front-proxy client certificate CNs (empty: any)', list)
    .option('--requestheader-username-headers <h>', 'user name headers', list)
    .option('--requestheader-group-headers <h>', 'group headers', list)
    .option('--requestheader-extra-headers-prefix <p>', 'extra header prefixes', list)
    .option('--client-ca-file <file>', 'CA for ordinary client certificates')
    .option('--webhook-client-ca-file <file>', 'require client certificates signed by this CA on the webhook port (the API server presents one through its admission kubeconfig; docs/security.md)')
    .option('--webhook-events <mode>', 'when the webhook writes Events: authenticated (only with --webhook-client-ca-file), always, never', eventsMode, 'authenticated')
    .option('--request-timeout <duration>', 'time a client has to send a whole request, headers and body (e.g. 10s; plain milliseconds are deprecated)', durationFlag('--request-timeout', { min: 1 }), REQUEST_TIMEOUT_MS)
    .option('--request-headers-timeout <duration>', 'time a client has to send the request headers (e.g. 5s; plain milliseconds are deprecated)', durationFlag('--request-headers-timeout', { min: 1 }), HEADERS_TIMEOUT_MS)
    .option('--max-connections <n>', 'open connections per server at most', positive, MAX_CONNECTIONS)
    .option('--max-request-bytes-inflight <bytes>', 'webhook: bytes of request bodies buffered at once; beyond, the oldest request still receiving gets 503', positive, DEFAULT_MAX_INFLIGHT_BYTES)
    .option('--max-reviews-inflight <n>', 'webhook: requests receiving their body at once; beyond, the oldest gets 503', positive, DEFAULT_MAX_INFLIGHT_REVIEWS)
    .option('--prometheus-url <url>', 'default Prometheus base URL', 'http://127.0.0.1:9090')
    .option('--allowed-source-hosts <hosts>', 'hosts load sources may contact: exact names/IPs or *.suffix (default: any)', list)
    .option('--prometheus-bearer-token-file <file>', 'bearer token for --prometheus-url, re-read when it changes (e.g. a projected ServiceAccount token)')
    .option('--prometheus-basic-auth-username-file <file>', 'basic auth user name for --prometheus-url, read from a file')
    .option('--prometheus-basic-auth-password-file <file>', 'basic auth password for --prometheus-url, read from a file')
    .option('--prometheus-ca-file <file>', 'CA bundle (PEM) that signs the certificate of --prometheus-url')
    .option('--prometheus-cert-file <file>', 'client certificate (PEM) for --prometheus-url')
    .option('--prometheus-key-file <file>', 'key of --prometheus-cert-file (PEM)')
    .option('--prometheus-server-name <name>', 'name expected in the certificate of --prometheus-url (default: its host)')
    .option('--prometheus-header <name=value>', 'extra header for --prometheus-url, e.g. X-Scope-OrgID=tenant (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--source-credential-dirs <dirs>', 'directories under which credential and TLS files named by policies must lie (default: none, policies may not name files)', list)
    .option('--allow-insecure-source-tls', 'let policies set tls.insecureSkipVerify (certificates of sources not verified)', false)
    .option('--kubeconfig <file>', 'kubeconfig for SubjectAccessReview, scale reads and Events (in-cluster config when running in a pod)')
    .option('--context <name>', 'context of --kubeconfig to use (default: its current-context)')
    .option('--insecure-dev', 'local development only: serve the metrics API without client authentication', false)
    .option('--no-adapter', 'do not run the external metrics adapter (next to KEDA: its APIService stays KEDA\'s)')
    .option('--keda-scaler-port <port>', 'serve KEDA\'s external scaler (gRPC) on this port (default: not served)', int)
    .option('--keda-scaler-tls', 'serve the KEDA scaler over TLS with the serving certificate', false)
    .option('--keda-scaler-client-ca-file <file>', 'require KEDA\'s client certificate signed by this CA on the scaler port (implies --keda-scaler-tls)')
    .option('--no-webhook', 'do not run the admission webhook')
    .option('--no-cluster-policies', 'do not load governor.io policy objects from the cluster')
    .option('--policy-poll <duration>', 'how often policy files are checked for changes (default 2s; plain milliseconds are deprecated)', durationFlag('--policy-poll', { min: 1 }), 2000)
    .option('--shutdown-grace <duration>', 'time in-flight requests get on SIGTERM (default 10s; plain milliseconds are deprecated)', durationFlag('--shutdown-grace', { min: 0 }), 10000)
    .option('--registration-manifests <files>', 'webhook configuration / APIService templates to register once ready (repeatable, comma-separated; default: none)', list)
    .option('--ca-bundle-file <file>', 'CA bundle of the serving certificate, published as caBundle (default: the generated CA)')
    .option('--registration-owner <clusterrole>', 'ClusterRole whose deletion garbage-collects the registrations', 'kube-governor')
    .option('--registration-interval <duration>', 'how often the registrations are checked and repaired (default 30s, at least 100ms; plain milliseconds are deprecated)', durationFlag('--registration-interval', { min: 100 }), 30000)
    .option('--review-timeout <duration>', 'how long one admission review may run before it is cut off: validate then denies if an enforce policy was not evaluated, mutate allows without a patch (default 500ms)', parseReviewTimeout)
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .option('--log-format <format>', 'json or text (default: text on a terminal, json otherwise)')
    .action(async (o) => {
      const log = createLogger({ level: o.logLevel, format: o.logFormat });
      const prometheusAuth = prometheusDefaults(
        {
          bearerTokenFile: o.prometheusBearerTokenFile,
          basicAuthUsernameFile: o.prometheusBasicAuthUsernameFile,
          basicAuthPasswordFile: o.prometheusBasicAuthPasswordFile,
          caFile: o.prometheusCaFile,
          certFile: o.prometheusCertFile,
          keyFile: o.prometheusKeyFile,
          serverName: o.prometheusServerName,
          headers: o.prometheusHeader ?? [],
        },
        o.prometheusUrl,
      );
      const options: GovernorOptions = {
        policies: o.policies?.length ? o.policies : ['./policies'],
        bindAddress: o.bindAddress,
        securePort: o.securePort,
        webhookPort: o.webhookPort,
        metricsPort: o.metricsPort,
        tlsCertFile: o.tlsCertFile,
        tlsPrivateKeyFile: o.tlsPrivateKeyFile,
        certDir: o.certDir,
        serviceName: o.serviceName,
        serviceNamespace: o.serviceNamespace,
        requestheaderClientCaFile: o.requestheaderClientCaFile,
        requestheaderAllowedNames: o.requestheaderAllowedNames ?? REQUESTHEADER_DEFAULTS.requestheaderAllowedNames,
        requestheaderUsernameHeaders: o.requestheaderUsernameHeaders ?? REQUESTHEADER_DEFAULTS.requestheaderUsernameHeaders,
        requestheaderGroupHeaders: o.requestheaderGroupHeaders ?? REQUESTHEADER_DEFAULTS.requestheaderGroupHeaders,
        requestheaderExtraHeadersPrefix: o.requestheaderExtraHeadersPrefix ?? REQUESTHEADER_DEFAULTS.requestheaderExtraHeadersPrefix,
        clientCaFile: o.clientCaFile,
        prometheusUrl: o.prometheusUrl,
        // The environment variable lets a dev shell or a test run fence every server it starts (the only place it is read).
        allowedSourceHosts: o.allowedSourceHosts ?? list(process.env.GOVERNOR_ALLOWED_SOURCE_HOSTS ?? ''),
        ...(prometheusAuth ? { prometheusAuth } : {}),
        sourceCredentialDirs: o.sourceCredentialDirs ?? [],
        allowInsecureSourceTls: Boolean(o.allowInsecureSourceTls),
        kubeconfig: o.kubeconfig,
        ...(o.context !== undefined ? { kubeContext: o.context } : {}),
        insecureDev: Boolean(o.insecureDev),
        enableAdapter: o.adapter !== false,
        enableWebhook: o.webhook !== false,
        ...(o.kedaScalerPort !== undefined ? { kedaScalerPort: o.kedaScalerPort } : {}),
        kedaScalerTls: Boolean(o.kedaScalerTls),
        ...(o.kedaScalerClientCaFile ? { kedaScalerClientCaFile: o.kedaScalerClientCaFile } : {}),
        policyPollMs: o.policyPoll,
        clusterPolicies: o.clusterPolicies !== false,
        shutdownGraceMs: o.shutdownGrace,
        registrationManifests: o.registrationManifests ?? [],
        caBundleFile: o.caBundleFile,
        registrationOwner: o.registrationOwner,
        registrationIntervalMs: o.registrationInterval,
        ...(o.reviewTimeout !== undefined ? { reviewTimeoutMs: o.reviewTimeout } : {}),
        requestTimeoutMs: o.requestTimeout,
        requestHeadersTimeoutMs: o.requestHeadersTimeout,
        maxConnections: o.maxConnections,
        maxRequestBytesInflight: o.maxRequestBytesInflight,
        maxReviewsInflight: o.maxReviewsInflight,
        webhookClientCaFile: o.webhookClientCaFile,
        webhookEvents: o.webhookEvents,
      };
      const running = await startGovernor(options, serveComponents(options), log);
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
        // Logs are written asynchronously: every line logged until now goes out before the process ends.
        const exit = (code: number) => void flushLog(log).then(() => process.exit(code));
        running.stop().then(
          () => {
            log.info({ signal }, 'stopped');
            exit(0);
          },
          (e) => {
            log.error({ err: (e as Error).message }, 'shutdown failed');
            exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    });
}
