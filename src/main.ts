// Composition root: builds the shared services of `governor serve` once (kube config, policy store and loaders,
// metrics, readiness, the namespace skip list, migration states, replica values) and hands them to every component.
// No logic lives here.
import { createLogger, type Logger } from './observability/log.js';
import { createMetrics } from './observability/metrics.js';
import { PolicyStore } from './policy/store.js';
import { PolicyFileWatcher } from './policy/load-files.js';
import { ClusterPolicyLoader } from './policy/load-cluster.js';
import { serverKubeConfig } from './kube/client.js';
import { PolicyReadiness, type PolicySourceProbe } from './policy/readiness.js';
import { Readiness } from './observability/readiness.js';
import { policyReloadReporter, recordPolicyState } from './observability/policy-state.js';
import { CertFileReloader, ensureServingCert } from './tls/serving.js';
import { serviceDnsNames } from './tls/certs.js';
import { KubeObjectStore } from './kube/cabundle.js';
import { createRegistrar, type Registrar } from './kube/registrar.js';
import { PolicyObservations } from './status/observations.js';
import { startPolicyStatus } from './status/wiring.js';
import { ConfigError } from './common/errors.js';
import { skippedNamespaces } from './governance/engine.js';
import type { GovernorOptions } from './server/options.js';
import type { ComponentFactory, GovernorContext, ServerComponent } from './server/component.js';
import { startMetricsServer } from './server/metrics-server.js';
import { tuneV8ForServing } from './server/v8-flags.js';
import { createMigrationStates, type MigrationStates } from './adapter/migration-wiring.js';
import { ReplicaValues } from './adapter/values.js';

/** The services built here that server components share (handed to each through src/components.ts). */
export interface ServeServices {
  /** The replica values the adapter and KEDA's external scaler publish. */
  readonly replicaValues: ReplicaValues;
  /** The migration states the adapter, the webhook and policy status read. */
  readonly migrationStates: MigrationStates;
}

/** A server component given the shared services (src/components.ts defines serve's). */
export type ServeComponent = (services: ServeServices) => ComponentFactory;

export interface RunningGovernor {
  readonly ports: { adapter?: number; webhook?: number; keda?: number; metrics: number };
  readonly context: GovernorContext;
  stop(): Promise<void>;
}

export async function startGovernor(
  options: GovernorOptions,
  components: readonly ServeComponent[],
  log: Logger = createLogger(),
): Promise<RunningGovernor> {
  tuneV8ForServing();
  const metrics = createMetrics();
  const store = new PolicyStore();
  const readiness = new Readiness();
  const observations = new PolicyObservations();
  const kubeConfig = serverKubeConfig(options);
  const ctx: GovernorContext = {
    options,
    log,
    metrics,
    store,
    readiness,
    observations,
    ...(kubeConfig ? { kubeConfig } : {}),
    skipNamespaces: skippedNamespaces(options.serviceNamespace),
  };

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
  if (kubeConfig && options.clusterPolicies !== false) {
    const loader = new ClusterPolicyLoader({ kubeConfig, store, log, onReload: (outcome) => reportReload('cluster', outcome) });
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
    ? { caBundleFile: options.caBundleFile ?? certs.caFile, kc: kubeConfig }
    : undefined;
  if (registration && (!registration.caBundleFile || !registration.kc)) {
    watcher.stop();
    await clusterLoader?.stop();
    throw new ConfigError('--registration-manifests needs --ca-bundle-file (or a generated certificate) and cluster access');
  }
  const migrationStates = createMigrationStates(ctx);
  const replicaValues = new ReplicaValues(ctx, migrationStates);
  const services: ServeServices = { replicaValues, migrationStates };
  const started: ServerComponent[] = [];
  const stopComponents = () =>
    Promise.all(
      started.map(async (c) => {
        await c.close(options.shutdownGraceMs);
        await c.stop?.();
      }),
    );
  try {
    for (const component of components) started.push(await component(services)(ctx, certs));
  } catch (e) {
    // One component failed to start: nothing of this governor keeps running.
    await stopComponents();
    await replicaValues.close();
    migrationStates.stop();
    watcher.stop();
    await clusterLoader?.stop();
    throw e;
  }
  for (const c of started) readiness.add(c.name, () => c.listening() || `${c.name} server not listening`);
  // Every policy evaluated once, now that the servers listen (not before: a query per policy).
  replicaValues.warmUp();

  // ---- policy status (status subresource of governor.io objects; metrics and logs for every policy). The Lease lives
  // in the governor namespace; only its holder writes.
  const policyStatus = await startPolicyStatus({ ...(kubeConfig ? { kubeConfig } : {}), namespace: options.serviceNamespace, store, observations, log, metrics });
  // ---- end policy status

  const reloader = new CertFileReloader(certs, (m) => {
    started.forEach((c) => c.setTls(m));
    void registrar?.trigger(); // a rotated CA reaches the caBundle now, not at the next pass
  }, log);
  await reloader.start();

  const metricsServer = await startMetricsServer(metrics.registry, readiness, { ...options, port: options.metricsPort });

  const ports: RunningGovernor['ports'] = { metrics: metricsServer.port };
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
      await stopComponents();
      // After the components: the adapter and the scaler stop publishing before the values behind them stop.
      await replicaValues.close();
      migrationStates.stop();
      await metricsServer.close();
    },
  };
}
