// Composition root: builds every component of `governor serve` from options and wires them together. No logic lives here.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createLogger, type Logger } from './observability/log.js';
import { createMetrics, type GovernorMetrics } from './observability/metrics.js';
import { PolicyStore } from './policy/store.js';
import { PolicyFileWatcher } from './policy/load-files.js';
import { ClusterPolicyLoader } from './policy/load-cluster.js';
import { serverKubeConfig } from './kube/client.js';
import { PolicyReadiness, type PolicySourceProbe } from './policy/readiness.js';
import { Readiness, wantsVerbose } from './observability/readiness.js';
import { policyReloadReporter, recordPolicyState } from './observability/policy-state.js';
import { CertFileReloader, ensureServingCert, readTlsMaterial, type TlsMaterial } from './tls/serving.js';
import { serviceDnsNames } from './tls/certs.js';
import { listen, MAX_CONNECTIONS, serverLimits, timeoutOptions, type ClosableServer } from './server/https.js';
import { KubeObjectStore } from './kube/cabundle.js';
import { createRegistrar, type Registrar } from './kube/registrar.js';
import { PolicyObservations } from './status/observations.js';
import { startPolicyStatus } from './status/wiring.js';
import type { SourceAuth } from './policy/types.js';
import { ConfigError } from './common/errors.js';

export interface GovernorOptions {
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
  readonly requestheaderAllowedNames: readonly string[];
  readonly requestheaderUsernameHeaders: readonly string[];
  readonly requestheaderGroupHeaders: readonly string[];
  readonly requestheaderExtraHeadersPrefix: readonly string[];
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

/** Everything a server component may need; built once here and passed down. */
export interface GovernorContext {
  readonly options: GovernorOptions;
  readonly log: Logger;
  readonly metrics: GovernorMetrics;
  readonly store: PolicyStore;
  /** Named readiness checks; every server's /readyz answers all of them (components add their own). */
  readonly readiness: Readiness;
  /** What the adapter knows per policy (decisions, migration states), for policy status. */
  readonly observations?: PolicyObservations;
}

export interface RunningGovernor {
  readonly ports: { adapter?: number; webhook?: number; keda?: number; metrics: number };
  readonly context: GovernorContext;
  stop(): Promise<void>;
}

/** A component that owns a server: the adapter and the webhook (HTTPS), KEDA's external scaler (gRPC). */
export interface ServerComponent {
  readonly name: string;
  readonly port: number;
  /** Accepting connections (part of readiness). */
  listening(): boolean;
  /** The rotated serving certificate, for new connections. */
  setTls(m: TlsMaterial): void;
  /** Stops accepting and lets in-flight requests finish, up to graceMs. */
  close(graceMs: number): Promise<void>;
  stop?(): Promise<void>;
}

export { httpsComponent } from './server/https.js';

export type ComponentFactory = (ctx: GovernorContext, tls: { certFile: string; keyFile: string }) => Promise<ServerComponent>;

export async function startGovernor(
  options: GovernorOptions,
  components: readonly ComponentFactory[],
  log: Logger = createLogger(),
): Promise<RunningGovernor> {
  const metrics = createMetrics();
  const store = new PolicyStore();
  const readiness = new Readiness();
  const observations = new PolicyObservations();
  const ctx: GovernorContext = { options, log, metrics, store, readiness, observations };

  // --- policy sources: every document stands alone; readiness waits for a first complete, valid read of each.
  store.onChange(() => recordPolicyState(metrics, store));
  const reportReload = policyReloadReporter(log, metrics);
  const watcher = new PolicyFileWatcher({
    paths: options.policies,
    store,
    intervalMs: options.policyPollMs,
    onReload: (outcome, files) => reportReload('files', outcome, files.length),
  });
  const policySources: PolicySourceProbe[] = [{ name: 'files', synced: () => watcher.loaded() || 'policy files not read yet' }];
  let clusterLoader: ClusterPolicyLoader | undefined;
  const kc = options.clusterPolicies === false ? undefined : serverKubeConfig(options);
  if (kc) {
    const loader = new ClusterPolicyLoader({ kubeConfig: kc, store, log, onReload: (outcome) => reportReload('cluster', outcome) });
    clusterLoader = loader;
    policySources.push({ name: 'cluster', synced: () => loader.synced() });
  }
  const policyReadiness = new PolicyReadiness(store, policySources);
  readiness.add('policies', () => policyReadiness.check());
  // Evaluated on every change too, not only when probed: a break right after a clean start is still after it.
  store.onChange(() => void policyReadiness.check());
  await watcher.reload();
  watcher.start();
  await clusterLoader?.start();
  // --- end policy sources

  const certs = await ensureServingCert(
    {
      certDir: options.certDir,
      dnsNames: [...serviceDnsNames(options.serviceName, options.serviceNamespace), 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      ...(options.tlsCertFile ? { certFile: options.tlsCertFile } : {}),
      ...(options.tlsPrivateKeyFile ? { keyFile: options.tlsPrivateKeyFile } : {}),
    },
    log,
  );

  // Registration options are checked before any server listens (a bad flag must not leave half a server running).
  let registrar: Registrar | undefined;
  let unsubscribeRegistrar: (() => void) | undefined;
  const registration = options.registrationManifests?.length
    ? { caBundleFile: options.caBundleFile ?? certs.caFile, kc: kc ?? serverKubeConfig(options) }
    : undefined;
  if (registration && (!registration.caBundleFile || !registration.kc)) {
    watcher.stop();
    await clusterLoader?.stop();
    throw new ConfigError('--registration-manifests needs --ca-bundle-file (or a generated certificate) and cluster access');
  }
  const started: ServerComponent[] = [];
  for (const make of components) started.push(await make(ctx, certs));
  for (const c of started) readiness.add(c.name, () => c.listening() || `${c.name} server not listening`);

  // ---- policy status (status subresource of governor.io objects; metrics and logs for every policy). The Lease lives
  // in the governor namespace; only its holder writes.
  const policyStatus = await startPolicyStatus({ ...(kc ? { kubeConfig: kc } : {}), namespace: options.serviceNamespace, store, observations, log, metrics });
  // ---- end policy status

  const reloader = new CertFileReloader(certs, (m) => {
    started.forEach((c) => c.setTls(m));
    void registrar?.trigger(); // a rotated CA reaches the caBundle now, not at the next pass
  }, log);
  await reloader.start();

  // The same connection limits as the HTTPS servers: a scraper or a probe never needs more.
  const metricsServer: HttpServer = createHttpServer(timeoutOptions(serverLimits(options)), async (req, res) => {
    const path = req.url?.split('?', 1)[0];
    if (path === '/metrics') {
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    } else if (path === '/readyz') {
      // The pod's readiness: both servers listening, the namespace cache synced, policies read and valid.
      const a = readiness.answer(wantsVerbose(req.url));
      res.writeHead(a.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(a.body);
    } else if (path === '/healthz' || path === '/livez') {
      // Liveness never depends on policies: a bad policy must not get pods restarted.
      res.end('ok');
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  metricsServer.maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
  const metricsPort = await listen(metricsServer as any, options.metricsPort, options.bindAddress);

  const ports: RunningGovernor['ports'] = { metrics: metricsPort };
  for (const c of started) (ports as any)[c.name] = c.port;
  log.info({ ports, certFile: certs.certFile, caFile: certs.caFile }, 'kube-governor serving');

  // ---- registration (src/kube/registrar.ts): our webhook configurations and APIService, once ready; never deleted here.
  if (registration?.caBundleFile && registration.kc && options.registrationManifests) {
    registrar = createRegistrar({
      store: new KubeObjectStore(registration.kc, 'kube-governor'),
      manifests: options.registrationManifests,
      caBundleFile: registration.caBundleFile,
      ownerClusterRole: options.registrationOwner ?? 'kube-governor',
      serviceName: options.serviceName,
      serviceNamespace: options.serviceNamespace,
      bindAddress: options.bindAddress,
      ports: { ...(ports.adapter !== undefined ? { adapter: ports.adapter } : {}), ...(ports.webhook !== undefined ? { webhook: ports.webhook } : {}) },
      // Registered only once the pod would be Ready: policies read and valid, servers listening, caches synced.
      isReady: () => readiness.ready(),
      intervalMs: options.registrationIntervalMs ?? 30_000,
      log: log.child({ component: 'registrar' }),
      // The governed webhooks follow the kinds the policies in force name (issue 13); a policy change re-registers.
      policyKinds: () => store.current().governance.flatMap((p) => p.match.kinds?.refs ?? []),
      kubeConfig: registration.kc,
    });
    unsubscribeRegistrar = store.onChange(() => void registrar?.trigger());
    registrar.start();
  }
  // ---- end registration

  return {
    ports,
    context: ctx,
    async stop() {
      unsubscribeRegistrar?.();
      await registrar?.stop();
      watcher.stop();
      reloader.stop();
      await policyStatus.stop();
      await clusterLoader?.stop();
      await Promise.all(started.map(async (c) => {
        await c.close(options.shutdownGraceMs);
        await c.stop?.();
      }));
      await new Promise<void>((r) => metricsServer.close(() => r()));
      metricsServer.closeAllConnections();
    },
  };
}

export async function readOptionalFile(path: string | undefined): Promise<string | undefined> {
  return path ? readFile(path, 'utf8') : undefined;
}

export { readTlsMaterial };
