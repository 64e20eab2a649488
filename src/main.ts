// Composition root: builds every component of `governor serve` from options and wires them together. No logic lives here.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createLogger, type Logger } from './observability/log.js';
import { createMetrics, type GovernorMetrics } from './observability/metrics.js';
import { PolicyStore } from './policy/store.js';
import { PolicyFileWatcher } from './policy/load-files.js';
import { ClusterPolicyLoader } from './policy/load-cluster.js';
import { loadKubeConfig } from './kube/client.js';
import { formatPolicyError } from './policy/types.js';
import { CertFileReloader, ensureServingCert, readTlsMaterial } from './tls/serving.js';
import { serviceDnsNames } from './tls/certs.js';
import { listen, MAX_CONNECTIONS, serverLimits, timeoutOptions, type ClosableServer } from './server/https.js';

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
  readonly kubeconfig?: string;
  readonly insecureDev: boolean;
  readonly enableAdapter: boolean;
  readonly enableWebhook: boolean;
  readonly policyPollMs: number;
  /** Also load governor.io policy objects from the cluster when a kubeconfig or in-cluster config exists. */
  readonly clusterPolicies?: boolean;
  readonly shutdownGraceMs: number;
  /** How often the adapter re-reads kube-system/extension-apiserver-authentication (default 60 s). */
  readonly authRefreshMs?: number;
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
}

export interface RunningGovernor {
  readonly ports: { adapter?: number; webhook?: number; metrics: number };
  readonly context: GovernorContext;
  stop(): Promise<void>;
}

/** A component that owns an HTTPS server (the adapter or the webhook). */
export interface ServerComponent {
  readonly name: string;
  readonly server: ClosableServer;
  readonly port: number;
  stop?(): Promise<void>;
}

export type ComponentFactory = (ctx: GovernorContext, tls: { certFile: string; keyFile: string }) => Promise<ServerComponent>;

export async function startGovernor(
  options: GovernorOptions,
  components: readonly ComponentFactory[],
  log: Logger = createLogger(),
): Promise<RunningGovernor> {
  const metrics = createMetrics();
  const store = new PolicyStore();
  const ctx: GovernorContext = { options, log, metrics, store };

  const watcher = new PolicyFileWatcher({
    paths: options.policies,
    store,
    intervalMs: options.policyPollMs,
    onReload(outcome, files) {
      if (outcome.applied) {
        metrics.policyReloads.inc({ result: 'applied' });
        metrics.policiesLoaded.set({ kind: 'ScalingPolicy' }, outcome.set.scaling.length);
        metrics.policiesLoaded.set({ kind: 'MigrationPolicy' }, outcome.set.migration.length);
        metrics.policiesLoaded.set({ kind: 'GovernancePolicy' }, outcome.set.governance.length);
        log.info(
          { generation: outcome.set.generation, files: files.length, scaling: outcome.set.scaling.length, migration: outcome.set.migration.length, governance: outcome.set.governance.length },
          'policies loaded',
        );
      } else {
        metrics.policyReloads.inc({ result: 'rejected' });
        for (const e of outcome.errors) log.error({ file: e.file, document: e.document, path: e.path }, `invalid policy: ${formatPolicyError(e)}`);
        log.error({ errors: outcome.errors.length, keptGeneration: outcome.set.generation }, 'policy set rejected; the last good set stays in force');
      }
    },
  });
  await watcher.reload();
  watcher.start();

  let clusterLoader: ClusterPolicyLoader | undefined;
  const kc = options.clusterPolicies === false ? undefined : loadKubeConfig(options.kubeconfig);
  if (kc) {
    clusterLoader = new ClusterPolicyLoader({
      kubeConfig: kc,
      store,
      log,
      onReload(outcome) {
        metrics.policyReloads.inc({ result: outcome.applied ? 'applied' : 'rejected' });
        if (outcome.applied) log.info({ generation: outcome.set.generation, source: 'cluster' }, 'policies loaded from the cluster');
        else for (const e of outcome.errors) log.error({ file: e.file, path: e.path }, `invalid policy object: ${formatPolicyError(e)}; the last good set stays in force`);
      },
    });
    await clusterLoader.start();
  }

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

  const started: ServerComponent[] = [];
  for (const make of components) started.push(await make(ctx, certs));

  const reloader = new CertFileReloader(certs, (m) => started.forEach((c) => c.server.setTls(m)), log);
  await reloader.start();

  // The same connection limits as the HTTPS servers: a scraper or a probe never needs more.
  const metricsServer: HttpServer = createHttpServer(timeoutOptions(serverLimits(options)), async (req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    } else if (req.url === '/healthz' || req.url === '/livez' || req.url === '/readyz') {
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

  return {
    ports,
    context: ctx,
    async stop() {
      watcher.stop();
      reloader.stop();
      await clusterLoader?.stop();
      await Promise.all(started.map(async (c) => {
        await c.server.close(options.shutdownGraceMs);
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
