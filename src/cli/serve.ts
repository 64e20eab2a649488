// `governor serve`: flags named as Kubernetes extension API servers name them, mapped onto GovernorOptions.
import type { Command } from 'commander';
import { createLogger } from '../observability/log.js';
import { startGovernor, WEBHOOK_EVENTS_MODES, type ComponentFactory, type GovernorOptions, type WebhookEventsMode } from '../main.js';
import { DEFAULT_MAX_INFLIGHT_BYTES, DEFAULT_MAX_INFLIGHT_REVIEWS } from '../server/budget.js';
import { HEADERS_TIMEOUT_MS, MAX_CONNECTIONS, REQUEST_TIMEOUT_MS } from '../server/https.js';

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`"${v}" is not a port number`);
  return n;
};

const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`"${v}" is not a positive whole number`);
  return n;
};
const eventsMode = (v: string): WebhookEventsMode => {
  if (!(WEBHOOK_EVENTS_MODES as readonly string[]).includes(v)) throw new Error(`--webhook-events is one of ${WEBHOOK_EVENTS_MODES.join(', ')} (got "${v}")`);
  return v as WebhookEventsMode;
};

/** Server components, registered by the adapter and the webhook modules. */
export const serveComponents: { adapter?: ComponentFactory; webhook?: ComponentFactory } = {};

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
    .option('--request-timeout <ms>', 'time a client has to send a whole request, headers and body (ms)', positive, REQUEST_TIMEOUT_MS)
    .option('--request-headers-timeout <ms>', 'time a client has to send the request headers (ms)', positive, HEADERS_TIMEOUT_MS)
    .option('--max-connections <n>', 'open connections per server at most', positive, MAX_CONNECTIONS)
    .option('--max-request-bytes-inflight <bytes>', 'webhook: bytes of request bodies buffered at once; beyond, the oldest request still receiving gets 503', positive, DEFAULT_MAX_INFLIGHT_BYTES)
    .option('--max-reviews-inflight <n>', 'webhook: requests receiving their body at once; beyond, the oldest gets 503', positive, DEFAULT_MAX_INFLIGHT_REVIEWS)
    .option('--prometheus-url <url>', 'default Prometheus base URL', 'http://127.0.0.1:9090')
    .option('--allowed-source-hosts <hosts>', 'hosts load sources may contact: exact names/IPs or *.suffix (default: any)', list)
    .option('--kubeconfig <file>', 'kubeconfig for SubjectAccessReview, scale reads and Events (in-cluster config when running in a pod)')
    .option('--insecure-dev', 'local development only: serve the metrics API without client authentication', false)
    .option('--no-adapter', 'do not run the external metrics adapter')
    .option('--no-webhook', 'do not run the admission webhook')
    .option('--no-cluster-policies', 'do not load governor.io policy objects from the cluster')
    .option('--policy-poll <ms>', 'how often policy files are checked for changes (ms)', int, 2000)
    .option('--shutdown-grace <ms>', 'time in-flight requests get on SIGTERM (ms)', int, 10000)
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .action(async (o) => {
      const log = createLogger({ level: o.logLevel });
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
        requestheaderAllowedNames: o.requestheaderAllowedNames ?? [],
        requestheaderUsernameHeaders: o.requestheaderUsernameHeaders ?? ['X-Remote-User'],
        requestheaderGroupHeaders: o.requestheaderGroupHeaders ?? ['X-Remote-Group'],
        requestheaderExtraHeadersPrefix: o.requestheaderExtraHeadersPrefix ?? ['X-Remote-Extra-'],
        clientCaFile: o.clientCaFile,
        prometheusUrl: o.prometheusUrl,
        // The environment variable lets a test run or a dev shell fence every server it starts to loopback.
        allowedSourceHosts: o.allowedSourceHosts ?? list(process.env.GOVERNOR_ALLOWED_SOURCE_HOSTS ?? ''),
        kubeconfig: o.kubeconfig,
        insecureDev: Boolean(o.insecureDev),
        enableAdapter: o.adapter !== false,
        enableWebhook: o.webhook !== false,
        policyPollMs: o.policyPoll,
        clusterPolicies: o.clusterPolicies !== false,
        shutdownGraceMs: o.shutdownGrace,
        requestTimeoutMs: o.requestTimeout,
        requestHeadersTimeoutMs: o.requestHeadersTimeout,
        maxConnections: o.maxConnections,
        maxRequestBytesInflight: o.maxRequestBytesInflight,
        maxReviewsInflight: o.maxReviewsInflight,
        webhookClientCaFile: o.webhookClientCaFile,
        webhookEvents: o.webhookEvents,
      };
      const components: ComponentFactory[] = [];
      if (options.enableAdapter && serveComponents.adapter) components.push(serveComponents.adapter);
      if (options.enableWebhook && serveComponents.webhook) components.push(serveComponents.webhook);
      const running = await startGovernor(options, components, log);
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
        running.stop().then(
          () => process.exit(0),
          (e) => {
            log.error({ err: (e as Error).message }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    });
}
