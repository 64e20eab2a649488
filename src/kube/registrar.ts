// The registrar: once the server is ready and serves a certificate its CA bundle trusts, it creates or repairs its own
// webhook configurations and APIService (as Kyverno does), and keeps them current. It never deletes them: deletion
// is the garbage collector's, when the owner (the install's ClusterRole) is deleted, so neither an upgrade nor the
// SIGTERM of the last replica leaves a gap, and an uninstall leaves nothing pointing at nothing.
import { readFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../observability/log.js';
import type { ObjectRef } from './cabundle.js';
import type { KindRef } from '../policy/kinds.js';
import { clientDiscovery } from './discovery.js';
import {
  REGISTERED_KINDS,
  resolveKinds,
  unregisteredReason,
  withPolicyKinds,
  type KindDiscovery,
  type ResolvedKind,
  desiredObject,
  differences,
  mergeCaBundle,
  parseRegistrationTemplates,
  pemCertificates,
  replacement,
  type RegistrationOwner,
  type RegistrationTemplate,
  type ServingComponent,
} from './registration.js';

/**
 * What the registrar needs of the Kubernetes API. `read` returns undefined for a 404 and throws otherwise. `apply` is
 * a server-side apply, which creates a missing object under RBAC `create` restricted by resourceNames (a POST
 * create carries no name, so it could not be restricted). `replace` is optimistic (metadata.resourceVersion).
 */
export interface RegistrationStore {
  read(ref: ObjectRef): Promise<KubernetesObject | undefined>;
  apply(obj: KubernetesObject): Promise<void>;
  replace(obj: KubernetesObject): Promise<void>;
}

export type RegistrationResult = 'created' | 'updated' | 'unchanged' | 'skipped' | 'failed';

export interface RegistrationOutcome {
  readonly kind: string;
  readonly name: string;
  readonly result: RegistrationResult;
  /** Why it was skipped or failed, or which fields were repaired. */
  readonly detail?: string;
}

export interface RegistrarOptions {
  readonly store: RegistrationStore;
  /** Read on every pass, so an edited template (a mounted ConfigMap) takes effect without a restart. */
  readonly templates: () => Promise<readonly RegistrationTemplate[]>;
  /** PEM bundle of the CA(s) that sign the serving certificate; read on every pass (rotation). */
  readonly caBundle: () => Promise<string>;
  /** The install's cluster-scoped object whose deletion garbage-collects the registrations. */
  readonly owner: { readonly apiVersion: string; readonly kind: string; readonly name: string };
  /** Whether the server is ready to enforce (policies loaded); nothing is registered before. */
  readonly isReady: () => boolean;
  /** Components that run; a template served by a component that does not run is not registered. */
  readonly components: ReadonlySet<ServingComponent>;
  /** Does the component answer TLS with a certificate the bundle trusts for the Service's DNS name? */
  readonly serving: (component: ServingComponent, caPems: readonly string[]) => Promise<boolean>;
  readonly log: Logger;
  readonly intervalMs: number;
  readonly now?: () => Date;
  /**
   * The kinds the GovernancePolicies in force name (match.kinds, Pod expanded): the governed webhooks get a rule for
   * each one their template does not cover. Absent: the templates as they are.
   */
  readonly policyKinds?: () => readonly KindRef[];
  /** Resolves kinds outside the built-in table (custom resources). Absent: built-in kinds only. */
  readonly discovery?: KindDiscovery;
}

const isConflict = (e: unknown) => (e as { code?: number }).code === 409;

export class Registrar {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RegistrationOutcome[]> | undefined;
  private again = false;
  private readonly last = new Map<string, string>();
  /** The last resolution that succeeded: a discovery outage keeps the rules registered, never drops them. */
  private kinds: readonly ResolvedKind[] = [];
  private kindsState = '';
  constructor(private readonly o: RegistrarOptions) {}

  /** Reconciles now and then every intervalMs. */
  start(): void {
    void this.trigger();
    this.timer = setInterval(() => void this.trigger(), this.o.intervalMs);
    this.timer.unref();
  }

  /** Stops reconciling. Deletes nothing: another replica, or the next version, keeps serving what is registered. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One pass now (or right after the one in progress); passes never overlap. */
  trigger(): Promise<RegistrationOutcome[]> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let out: RegistrationOutcome[];
      do {
        this.again = false;
        out = await this.reconcile();
      } while (this.again);
      return out;
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private report(outcomes: RegistrationOutcome[]): RegistrationOutcome[] {
    for (const r of outcomes) {
      const key = `${r.kind}/${r.name}`;
      const state = `${r.result}:${r.detail ?? ''}`;
      const fields = { kind: r.kind, name: r.name, result: r.result, ...(r.detail ? { detail: r.detail } : {}) };
      if (r.result === 'failed') this.o.log.error(fields, 'registration failed; retrying');
      else if (r.result === 'created' || r.result === 'updated') this.o.log.info(fields, 'registered');
      // Skips and "unchanged" repeat on every pass: logged only when they change.
      else if (this.last.get(key) !== state) this.o.log[r.result === 'skipped' ? 'warn' : 'info'](fields, r.result === 'skipped' ? 'not registered yet' : 'registration up to date');
      this.last.set(key, state);
    }
    return outcomes;
  }

  private async reconcile(): Promise<RegistrationOutcome[]> {
    let templates: readonly RegistrationTemplate[];
    try {
      templates = await this.o.templates();
    } catch (e) {
      return this.report([{ kind: 'templates', name: '', result: 'failed', detail: (e as Error).message }]);
    }
    const skipAll = (detail: string) => this.report(templates.map((t) => ({ kind: t.kind, name: t.metadata.name, result: 'skipped' as const, detail })));
    if (!this.o.isReady()) return skipAll('the server is not ready');
    let ours: string[];
    try {
      ours = pemCertificates(await this.o.caBundle());
    } catch (e) {
      return skipAll(`no CA bundle: ${(e as Error).message}`);
    }
    if (!ours.length) return skipAll('the CA bundle holds no certificate');

    let owner: RegistrationOwner;
    try {
      const o = await this.o.store.read({ apiVersion: this.o.owner.apiVersion, kind: this.o.owner.kind, name: this.o.owner.name });
      // Missing or being deleted: kube-governor is being uninstalled; registering now would outlive the install.
      if (!o?.metadata?.uid || o.metadata.deletionTimestamp) return skipAll(`owner ${this.o.owner.kind} ${this.o.owner.name} is missing or being deleted`);
      owner = { ...this.o.owner, uid: o.metadata.uid };
    } catch (e) {
      return this.report(templates.map((t) => ({ kind: t.kind, name: t.metadata.name, result: 'failed' as const, detail: `reading owner: ${(e as Error).message}` })));
    }

    const kinds = await this.policyKinds();
    const servingOk = new Map<ServingComponent, boolean>();
    const outcomes: RegistrationOutcome[] = [];
    for (const t of templates) {
      const component = REGISTERED_KINDS[t.kind];
      const id = { kind: t.kind, name: t.metadata.name };
      if (!this.o.components.has(component)) {
        outcomes.push({ ...id, result: 'skipped', detail: `the ${component} does not run in this server` });
        continue;
      }
      if (!servingOk.has(component)) servingOk.set(component, await this.o.serving(component, ours).catch(() => false));
      if (!servingOk.get(component)) {
        outcomes.push({ ...id, result: 'skipped', detail: `the ${component} does not serve a certificate the CA bundle trusts` });
        continue;
      }
      outcomes.push(await this.reconcileOne(withPolicyKinds(t, kinds), ours, owner));
    }
    return this.report(outcomes);
  }

  /** The kinds policies name, resolved; what cannot be registered is logged when it changes. */
  private async policyKinds(): Promise<readonly ResolvedKind[]> {
    const refs = this.o.policyKinds?.() ?? [];
    if (!refs.length) return (this.kinds = []);
    try {
      const r = await resolveKinds(refs, this.o.discovery);
      const skipped = [...r.unresolved.map((k) => `${k}: not served by the API server (is its CRD installed?)`), ...r.resolved.map(unregisteredReason).filter((x): x is string => x !== undefined)];
      const state = [...new Set(skipped)].sort().join('; ');
      if (state !== this.kindsState && state) this.o.log.warn({ kinds: [...new Set(skipped)].sort() }, 'kinds named by policies that the webhook does not register');
      this.kindsState = state;
      this.kinds = r.resolved;
    } catch (e) {
      this.o.log.error({ err: (e as Error).message }, 'API discovery failed; keeping the kinds registered before');
    }
    return this.kinds;
  }

  private async reconcileOne(t: RegistrationTemplate, ours: readonly string[], owner: RegistrationOwner): Promise<RegistrationOutcome> {
    const id = { kind: t.kind, name: t.metadata.name };
    const ref = { apiVersion: t.apiVersion, kind: t.kind, name: t.metadata.name };
    const now = this.o.now?.() ?? new Date();
    try {
      for (let attempt = 0; ; attempt++) {
        const live = (await this.o.store.read(ref)) as Record<string, any> | undefined;
        const desired = desiredObject(t, mergeCaBundle(ours, live, now), owner);
        if (!live) {
          await this.o.store.apply(desired as KubernetesObject);
          return { ...id, result: 'created' };
        }
        const diffs = differences(desired, live);
        if (!diffs.length) return { ...id, result: 'unchanged' };
        try {
          await this.o.store.replace(replacement(desired, live) as KubernetesObject);
          return { ...id, result: 'updated', detail: diffs.slice(0, 5).join(', ') + (diffs.length > 5 ? ` and ${diffs.length - 5} more` : '') };
        } catch (e) {
          // Another replica wrote meanwhile: read again and compare (it most likely wrote the same thing).
          if (!isConflict(e) || attempt >= 2) throw e;
        }
      }
    } catch (e) {
      return { ...id, result: 'failed', detail: (e as Error).message };
    }
  }
}

/**
 * Connects to the component's port and checks that its certificate chains to the bundle and is valid for the name
 * the API server verifies (<service>.<namespace>.svc). Registering a bundle that does not trust what we serve would
 * make a failurePolicy Fail webhook refuse every write it matches.
 */
export function tlsServingCheck(host: string, port: number, serverName: string, timeoutMs = 3000): (caPems: readonly string[]) => Promise<boolean> {
  return (caPems) =>
    new Promise((resolve) => {
      const socket = connect({ host, port, servername: serverName, ca: [...caPems], rejectUnauthorized: true, timeout: timeoutMs }, () => {
        socket.end();
        resolve(true);
      });
      socket.on('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', () => resolve(false));
    });
}

export interface RegistrarWiring {
  readonly store: RegistrationStore;
  /** Template files (manifests/base/webhooks.yaml, apiservice.yaml, mounted from a ConfigMap). */
  readonly manifests: readonly string[];
  readonly caBundleFile: string;
  /** ClusterRole of the install (manifests/base/rbac.yaml) that owns the registrations. */
  readonly ownerClusterRole: string;
  readonly serviceName: string;
  readonly serviceNamespace: string;
  /** Where the servers listen (0.0.0.0 and :: are checked on loopback). */
  readonly bindAddress: string;
  readonly ports: { readonly adapter?: number; readonly webhook?: number };
  readonly isReady: () => boolean;
  readonly intervalMs: number;
  readonly log: Logger;
  /** The kinds the GovernancePolicies in force name. */
  readonly policyKinds?: () => readonly KindRef[];
  /** For discovery of kinds outside the built-in table. */
  readonly kubeConfig?: KubeConfig;
}

/** The registrar of `governor serve`, built from its flags (src/main.ts passes every dependency explicitly). */
export function createRegistrar(w: RegistrarWiring): Registrar {
  const host = w.bindAddress === '0.0.0.0' || w.bindAddress === '::' || w.bindAddress === '' ? '127.0.0.1' : w.bindAddress;
  const serverName = `${w.serviceName}.${w.serviceNamespace}.svc`;
  const components = new Set<ServingComponent>();
  if (w.ports.adapter !== undefined) components.add('adapter');
  if (w.ports.webhook !== undefined) components.add('webhook');
  return new Registrar({
    store: w.store,
    templates: async () => (await Promise.all(w.manifests.map(async (f) => parseRegistrationTemplates(await readFile(f, 'utf8'), f)))).flat(),
    caBundle: () => readFile(w.caBundleFile, 'utf8'),
    owner: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: w.ownerClusterRole },
    isReady: w.isReady,
    components,
    serving: (component, ca) => tlsServingCheck(host, (component === 'adapter' ? w.ports.adapter : w.ports.webhook)!, serverName)(ca),
    log: w.log,
    intervalMs: w.intervalMs,
    ...(w.policyKinds ? { policyKinds: w.policyKinds } : {}),
    ...(w.kubeConfig ? { discovery: clientDiscovery(w.kubeConfig) } : {}),
  });
}
