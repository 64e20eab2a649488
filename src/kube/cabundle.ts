// Publishes the CA bundle that kube-apiserver trusts for our serving certificate (APIService and webhook
// configurations) and stores the certificate Secrets, through a small object-store interface with a fake beside it.
import {
  AdmissionregistrationV1Api,
  ApiregistrationV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { base64Utf8, utf8OfBase64 } from '../wire/text.js';
import { readOrAbsent } from './api.js';

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** RFC 6902 operations this module emits. */
export type JsonPatchOp =
  | { readonly op: 'test'; readonly path: string; readonly value: unknown }
  | { readonly op: 'add' | 'replace'; readonly path: string; readonly value: unknown };

/**
 * What `governor certs` needs of the Kubernetes API. `read` returns undefined for a missing object (404) and throws
 * for anything else; `jsonPatch` fails when a `test` operation does not hold (someone changed the object meanwhile).
 */
export interface ObjectStore {
  read(ref: ObjectRef): Promise<KubernetesObject | undefined>;
  jsonPatch(ref: ObjectRef, ops: readonly JsonPatchOp[]): Promise<void>;
  create(obj: KubernetesObject): Promise<void>;
  /** Optimistic: obj carries the metadata.resourceVersion it was read at. */
  replace(obj: KubernetesObject): Promise<void>;
}

/** The objects that carry our caBundle, named as in manifests/base. */
export const APISERVICE_NAME = 'v1beta1.external.metrics.k8s.io';
export const WEBHOOK_CONFIGURATION_NAME = 'kube-governor';

export function caBundleTargets(webhookConfigurationName = WEBHOOK_CONFIGURATION_NAME, apiServiceName = APISERVICE_NAME): ObjectRef[] {
  return [
    { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', name: apiServiceName },
    { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', name: webhookConfigurationName },
    { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', name: webhookConfigurationName },
  ];
}

/** Kinds that carry a caBundle, and where. */
export class UnsupportedCaBundleTargetError extends Error {
  override name = 'UnsupportedCaBundleTargetError';
}

/**
 * The JSON patch that sets `caBundle` (base64 of the PEM bundle) on an APIService or on every webhook of a webhook
 * configuration, or [] when it is already set. Guarded by `test` operations on resourceVersion and on each webhook's
 * name, so a concurrent edit makes the patch fail instead of writing into the wrong entry.
 */
export function caBundlePatch(obj: KubernetesObject, caBundleBase64: string): JsonPatchOp[] {
  const o = obj as any;
  const ops: JsonPatchOp[] = [];
  if (obj.kind === 'APIService') {
    if (o.spec?.caBundle !== caBundleBase64) ops.push({ op: 'add', path: '/spec/caBundle', value: caBundleBase64 });
    // The API rejects caBundle together with insecureSkipTLSVerify; we never want the latter anyway.
    if (o.spec?.insecureSkipTLSVerify === true) ops.push({ op: 'replace', path: '/spec/insecureSkipTLSVerify', value: false });
  } else if (obj.kind === 'MutatingWebhookConfiguration' || obj.kind === 'ValidatingWebhookConfiguration') {
    const webhooks: any[] = Array.isArray(o.webhooks) ? o.webhooks : [];
    webhooks.forEach((w, i) => {
      if (w?.clientConfig?.caBundle === caBundleBase64) return;
      ops.push({ op: 'test', path: `/webhooks/${i}/name`, value: w.name });
      ops.push({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundleBase64 });
    });
  } else {
    throw new UnsupportedCaBundleTargetError(`${obj.kind} has no caBundle`);
  }
  if (ops.length === 0) return [];
  const rv = obj.metadata?.resourceVersion;
  return rv ? [{ op: 'test', path: '/metadata/resourceVersion', value: rv }, ...ops] : ops;
}

export type CaBundleOutcome =
  | { readonly target: ObjectRef; readonly result: 'patched' | 'unchanged' }
  | { readonly target: ObjectRef; readonly result: 'not-found' }
  | { readonly target: ObjectRef; readonly result: 'failed'; readonly message: string };

/** Writes the bundle into every target; one outcome per target (a failure does not stop the others). */
export async function publishCaBundle(store: ObjectStore, targets: readonly ObjectRef[], caBundlePem: string): Promise<CaBundleOutcome[]> {
  const b64 = base64Utf8(caBundlePem);
  const outcomes: CaBundleOutcome[] = [];
  for (const target of targets) {
    try {
      const obj = await store.read(target);
      if (!obj) {
        outcomes.push({ target, result: 'not-found' });
        continue;
      }
      const ops = caBundlePatch(obj, b64);
      if (ops.length > 0) await store.jsonPatch(target, ops);
      outcomes.push({ target, result: ops.length > 0 ? 'patched' : 'unchanged' });
    } catch (e) {
      outcomes.push({ target, result: 'failed', message: (e as Error).message });
    }
  }
  return outcomes;
}

/** Reads a Secret's data, decoded; undefined when it does not exist. */
export async function readSecretData(store: ObjectStore, namespace: string, name: string): Promise<Record<string, string> | undefined> {
  const s = (await store.read({ apiVersion: 'v1', kind: 'Secret', namespace, name })) as any;
  if (!s) return undefined;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries<string>(s.data ?? {})) data[k] = utf8OfBase64(v);
  for (const [k, v] of Object.entries<string>(s.stringData ?? {})) data[k] = v;
  return data;
}

/** Creates or updates a Secret so its data equals `data` exactly; 'unchanged' when it already does. */
export async function writeSecret(
  store: ObjectStore,
  s: { namespace: string; name: string; type: string; data: Record<string, string>; labels?: Record<string, string> },
): Promise<'created' | 'updated' | 'unchanged'> {
  const ref = { apiVersion: 'v1', kind: 'Secret', namespace: s.namespace, name: s.name };
  const encoded = Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, base64Utf8(v)]));
  const existing = (await store.read(ref)) as any;
  const body = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: s.name, namespace: s.namespace, ...(s.labels ? { labels: s.labels } : {}) },
    type: s.type,
    data: encoded,
  };
  if (!existing) {
    await store.create(body);
    return 'created';
  }
  if (existing.type !== s.type) throw new SecretTypeError(`Secret ${s.namespace}/${s.name} has type ${existing.type}, want ${s.type}; delete it first`);
  if (sameData(existing.data ?? {}, encoded)) return 'unchanged';
  await store.replace({
    ...body,
    metadata: { ...existing.metadata, labels: { ...(existing.metadata?.labels ?? {}), ...(s.labels ?? {}) } },
  } as KubernetesObject);
  return 'updated';
}

/** The type of a Secret cannot be changed in place. */
export class SecretTypeError extends Error {
  override name = 'SecretTypeError';
}

function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/** ObjectStore over client-node: the generic object API for reads and Secrets, typed APIs for JSON patches. */
export class KubeObjectStore implements ObjectStore {
  private readonly objects: KubernetesObjectApi;
  private readonly registration: ApiregistrationV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  constructor(
    kc: KubeConfig,
    private readonly fieldManager = 'governor-certs',
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.registration = kc.makeApiClient(ApiregistrationV1Api);
    this.admission = kc.makeApiClient(AdmissionregistrationV1Api);
  }

  async read(ref: ObjectRef): Promise<KubernetesObject | undefined> {
    const header = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) } };
    return readOrAbsent(() => this.objects.read(header));
  }

  async jsonPatch(ref: ObjectRef, ops: readonly JsonPatchOp[]): Promise<void> {
    // The generic object API sends its body as the object itself, so JSON patches go through the typed APIs.
    const options = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
    const param = { name: ref.name, body: ops as any, fieldManager: this.fieldManager };
    switch (ref.kind) {
      case 'APIService':
        await this.registration.patchAPIService(param, options);
        return;
      case 'MutatingWebhookConfiguration':
        await this.admission.patchMutatingWebhookConfiguration(param, options);
        return;
      case 'ValidatingWebhookConfiguration':
        await this.admission.patchValidatingWebhookConfiguration(param, options);
        return;
      default:
        throw new UnsupportedCaBundleTargetError(`JSON patch of ${ref.kind} is not supported`);
    }
  }

  async create(obj: KubernetesObject): Promise<void> {
    await this.objects.create(obj, undefined, undefined, this.fieldManager);
  }

  async replace(obj: KubernetesObject): Promise<void> {
    await this.objects.replace(obj, undefined, undefined, this.fieldManager);
  }

  /** Server-side apply with force (src/kube/registrar.ts: creates under RBAC restricted by resourceNames). */
  async apply(obj: KubernetesObject): Promise<void> {
    await this.objects.patch(obj, undefined, undefined, this.fieldManager, true, PatchStrategy.ServerSideApply);
  }
}
