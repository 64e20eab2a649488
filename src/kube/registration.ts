// What the server registers with the API server (its webhook configurations and APIService) and how a live object is
// compared with it: pure functions over plain objects, so every decision of the registrar is tested without a cluster.
import { X509Certificate } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { BUILTIN_KINDS, type KindRef } from '../policy/kinds.js';
import { base64Utf8, utf8OfBase64 } from '../wire/text.js';

/** The kinds the server registers for itself; each one is served by one of its components. */
export const REGISTERED_KINDS = {
  MutatingWebhookConfiguration: 'webhook',
  ValidatingWebhookConfiguration: 'webhook',
  APIService: 'adapter',
} as const;
export type RegisteredKind = keyof typeof REGISTERED_KINDS;
export type ServingComponent = (typeof REGISTERED_KINDS)[RegisteredKind];

export interface RegistrationTemplate {
  readonly apiVersion: string;
  readonly kind: RegisteredKind;
  readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>> };
  readonly [field: string]: unknown;
}

/** The cluster-scoped object whose deletion garbage-collects the registrations (uninstall). */
export interface RegistrationOwner {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

/** A template file that is not what the registrar may register. */
export class RegistrationTemplateError extends Error {
  override name = 'RegistrationTemplateError';
}

const isRecord = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses the YAML of registration templates (manifests/base/webhooks.yaml, apiservice.yaml). Only the three kinds
 * above; caBundle and insecureSkipTLSVerify are refused because trust comes from the serving CA alone.
 */
export function parseRegistrationTemplates(text: string, source: string): RegistrationTemplate[] {
  const out: RegistrationTemplate[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    const at = `${source} document ${i + 1}`;
    if (doc.errors.length) throw new RegistrationTemplateError(`${at}: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as unknown;
    if (o === null || o === undefined) return;
    if (!isRecord(o)) throw new RegistrationTemplateError(`${at}: not an object`);
    if (!(typeof o.kind === 'string' && o.kind in REGISTERED_KINDS)) {
      throw new RegistrationTemplateError(`${at}: kind ${String(o.kind)} is not registered by the server (only ${Object.keys(REGISTERED_KINDS).join(', ')})`);
    }
    if (typeof o.apiVersion !== 'string' || !isRecord(o.metadata) || typeof o.metadata.name !== 'string' || !o.metadata.name) {
      throw new RegistrationTemplateError(`${at}: apiVersion and metadata.name are required`);
    }
    if (o.kind === 'APIService') {
      if (!isRecord(o.spec?.service)) throw new RegistrationTemplateError(`${at}: spec.service is required`);
      if (o.spec.caBundle !== undefined || o.spec.insecureSkipTLSVerify) throw new RegistrationTemplateError(`${at}: caBundle and insecureSkipTLSVerify come from the serving CA, not the template`);
    } else {
      if (!Array.isArray(o.webhooks) || !o.webhooks.length) throw new RegistrationTemplateError(`${at}: webhooks is empty`);
      o.webhooks.forEach((w: unknown, j: number) => {
        if (!isRecord(w) || typeof w.name !== 'string' || !isRecord(w.clientConfig?.service)) throw new RegistrationTemplateError(`${at}: webhooks[${j}] needs a name and clientConfig.service`);
        if (w.clientConfig.caBundle !== undefined) throw new RegistrationTemplateError(`${at}: webhooks[${j}].clientConfig.caBundle comes from the serving CA, not the template`);
      });
    }
    out.push(o as RegistrationTemplate);
  });
  return out;
}

/** The PEM certificates of a bundle, each with its own line ending kept, so a bundle file is republished byte for byte. */
export function pemCertificates(text: string | undefined): string[] {
  return (text ?? '').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----(\r?\n)?/g)?.map((p) => (p.endsWith('\n') ? p : `${p}\n`)) ?? [];
}

function certOf(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function bundleOfBase64(b64: unknown): string[] {
  return typeof b64 === 'string' ? pemCertificates(utf8OfBase64(b64)) : [];
}

/** The caBundle values of a live object (all webhooks, or the APIService). */
function liveBundles(live: Record<string, any>): unknown[] {
  return live.kind === 'APIService' ? [live.spec?.caBundle] : (Array.isArray(live.webhooks) ? live.webhooks : []).map((w: any) => w?.clientConfig?.caBundle);
}

/**
 * The bundle to publish: our CAs first, then every CA already published that is a valid, unexpired CA certificate
 * not among ours. `governor certs` publishes the next CA before the serving Secret switches to it (kyverno#13639);
 * the pods see the new Secret up to a minute later, and rewriting the bundle from their copy in between would drop
 * the CA the new certificate needs. Anything else in the live bundle (garbage, expired, not a CA) is dropped.
 */
export function mergeCaBundle(ours: readonly string[], live: Record<string, any> | undefined, now: Date): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const pem of ours) {
    const c = certOf(pem);
    if (!c || seen.has(c.fingerprint256)) continue;
    seen.add(c.fingerprint256);
    out.push(pem);
  }
  for (const pem of live ? liveBundles(live).flatMap(bundleOfBase64) : []) {
    const c = certOf(pem);
    if (!c || seen.has(c.fingerprint256) || !c.ca || new Date(c.validTo).getTime() <= now.getTime()) continue;
    seen.add(c.fingerprint256);
    out.push(pem);
  }
  return out;
}

/** The object to register: the template with our owner and the caBundle (base64 of the PEMs) in every place. */
export function desiredObject(template: RegistrationTemplate, bundle: readonly string[], owner: RegistrationOwner): Record<string, any> {
  const o = structuredClone(template) as Record<string, any>;
  const caBundle = base64Utf8(bundle.join(''));
  o.metadata = { ...o.metadata, ownerReferences: [ownerReference(owner)] };
  if (o.kind === 'APIService') o.spec = { ...o.spec, caBundle };
  else o.webhooks = o.webhooks.map((w: any) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle } }));
  return o;
}

function ownerReference(owner: RegistrationOwner): Record<string, unknown> {
  // Not a controller reference and no blockOwnerDeletion: deleting the owner must never wait on us.
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid };
}

/**
 * True when every field the template sets has the same value in the live object (the API server adds defaults, so
 * extra fields are fine), except where extra content would change what we enforce: other webhooks in our
 * configuration, an objectSelector on ours (a label would then opt objects out), or a CA we do not publish.
 */
export function differences(desired: Record<string, any>, live: Record<string, any>): string[] {
  const diffs: string[] = [];
  const refs: unknown[] = Array.isArray(live.metadata?.ownerReferences) ? live.metadata.ownerReferences : [];
  const want = desired.metadata.ownerReferences[0];
  if (!refs.some((r) => isRecord(r) && r.uid === want.uid && r.kind === want.kind)) diffs.push('metadata.ownerReferences');
  for (const [k, v] of Object.entries<string>(desired.metadata.labels ?? {})) if (live.metadata?.labels?.[k] !== v) diffs.push(`metadata.labels.${k}`);
  const sameBundle = (a: unknown, b: unknown) => {
    const fa = bundleOfBase64(a).map((p) => certOf(p)?.fingerprint256 ?? p).sort();
    const fb = bundleOfBase64(b).map((p) => certOf(p)?.fingerprint256 ?? p).sort();
    return fa.length === fb.length && fa.every((f, i) => f === fb[i]);
  };
  if (desired.kind === 'APIService') {
    const { caBundle, ...spec } = desired.spec;
    subset(spec, live.spec, 'spec', diffs);
    if (!sameBundle(caBundle, live.spec?.caBundle)) diffs.push('spec.caBundle');
    if (live.spec?.insecureSkipTLSVerify) diffs.push('spec.insecureSkipTLSVerify');
    return diffs;
  }
  const lw: any[] = Array.isArray(live.webhooks) ? live.webhooks : [];
  const names = (ws: any[]) => ws.map((w) => w?.name).join(',');
  if (names(lw) !== names(desired.webhooks)) {
    diffs.push(`webhooks: [${names(lw)}] instead of [${names(desired.webhooks)}]`);
    return diffs;
  }
  desired.webhooks.forEach((w: any, i: number) => {
    const { clientConfig, ...rest } = w;
    const { caBundle, ...cc } = clientConfig;
    subset(rest, lw[i], `webhooks[${i}]`, diffs);
    subset(cc, lw[i].clientConfig, `webhooks[${i}].clientConfig`, diffs);
    if (lw[i].clientConfig?.url !== undefined) diffs.push(`webhooks[${i}].clientConfig.url`);
    if (!sameBundle(caBundle, lw[i].clientConfig?.caBundle)) diffs.push(`webhooks[${i}].clientConfig.caBundle`);
    const sel = lw[i].objectSelector;
    if (w.objectSelector === undefined && isRecord(sel) && Object.keys(sel).some((k) => (Array.isArray(sel[k]) ? sel[k].length : isRecord(sel[k]) ? Object.keys(sel[k]).length : sel[k] !== undefined))) {
      diffs.push(`webhooks[${i}].objectSelector`);
    }
  });
  return diffs;
}

/** Records where `want` (objects: its keys; arrays: same length, element-wise) is not contained in `have`. */
function subset(want: unknown, have: unknown, path: string, diffs: string[]): void {
  if (Array.isArray(want)) {
    if (!Array.isArray(have) || have.length !== want.length) {
      diffs.push(path);
      return;
    }
    want.forEach((w, i) => subset(w, have[i], `${path}[${i}]`, diffs));
  } else if (isRecord(want)) {
    if (!isRecord(have)) {
      diffs.push(path);
      return;
    }
    for (const [k, v] of Object.entries(want)) subset(v, have[k], `${path}.${k}`, diffs);
  } else if (want !== have) {
    diffs.push(path);
  }
}

/**
 * The full object for a replace (PUT) of a live object that differs: the live metadata (resourceVersion for
 * optimistic concurrency, other owners, annotations) with our labels and owner, and the template's content in full,
 * so foreign webhooks or selectors added by an edit are dropped.
 */
export function replacement(desired: Record<string, any>, live: Record<string, any>): Record<string, any> {
  const want = desired.metadata.ownerReferences[0];
  const others = (Array.isArray(live.metadata?.ownerReferences) ? live.metadata.ownerReferences : []).filter(
    (r: any) => !(isRecord(r) && r.kind === want.kind && r.name === want.name),
  );
  const { managedFields: _mf, ...meta } = live.metadata ?? {};
  return {
    ...desired,
    metadata: { ...meta, labels: { ...(live.metadata?.labels ?? {}), ...(desired.metadata.labels ?? {}) }, ownerReferences: [...others, want] },
  };
}

// ------------------------------------------------------------------ webhook rules for the kinds policies name

/** The webhooks whose rules follow the kinds GovernancePolicies name (the templates' own rules stay as they are). */
export const GOVERNED_WEBHOOKS: readonly string[] = ['mutate.governor.io', 'validate.governor.io'];

/** A kind resolved to what a webhook rule names (resources.ts of the API server: group, version, plural resource). */
export interface ResolvedKind {
  readonly group: string;
  /** undefined: every version (matchPolicy Equivalent sends other versions converted). */
  readonly version?: string;
  /** The version the server prefers: a rule on it covers every version (matchPolicy Equivalent). */
  readonly preferredVersion: string;
  readonly resource: string;
  readonly namespaced: boolean;
  readonly kind: string;
}

export interface WebhookRule {
  readonly apiGroups: readonly string[];
  readonly apiVersions: readonly string[];
  readonly resources: readonly string[];
  readonly operations: readonly string[];
  readonly scope: string;
}

/** Why a named kind gets no rule: cluster-scoped objects (Namespace among them) could lock the cluster out. */
export function unregisteredReason(k: ResolvedKind): string | undefined {
  if (!k.namespaced) return `${k.kind} is cluster-scoped: the webhook registers namespaced kinds only (no lock-out); governor review/test still check it`;
  if (k.group === 'governor.io') return `${k.kind} is kube-governor's own kind: validate-policies.governor.io checks it`;
  return undefined;
}

const has = (list: unknown, v: string) => Array.isArray(list) && (list.includes(v) || list.includes('*'));

function covers(rule: any, k: ResolvedKind): boolean {
  return (
    isRecord(rule) &&
    has(rule.apiGroups, k.group) &&
    has(rule.resources, k.resource) &&
    has(rule.apiVersions, k.version ?? k.preferredVersion) &&
    has(rule.operations, 'CREATE') &&
    has(rule.operations, 'UPDATE')
  );
}

/**
 * The template with a rule added to each governed webhook for every named kind its rules do not cover yet
 * (CREATE and UPDATE, namespaced only: the webhooks' namespaceSelector keeps excluding kube-system and governor's
 * own namespace). Kinds are sorted so every replica writes the same object.
 */
export function withPolicyKinds(template: RegistrationTemplate, kinds: readonly ResolvedKind[]): RegistrationTemplate {
  if (template.kind === 'APIService' || !kinds.length) return template;
  const webhooks = (template.webhooks as any[]).map((w) => {
    if (!GOVERNED_WEBHOOKS.includes(w.name)) return w;
    const rules: any[] = Array.isArray(w.rules) ? [...w.rules] : [];
    const extra = kinds
      .filter((k) => unregisteredReason(k) === undefined && !rules.some((r) => covers(r, k)))
      .sort((a, b) => `${a.group}/${a.resource}/${a.version ?? '*'}`.localeCompare(`${b.group}/${b.resource}/${b.version ?? '*'}`));
    const seen = new Set<string>();
    for (const k of extra) {
      const key = `${k.group}/${k.resource}/${k.version ?? '*'}`;
      if (seen.has(key)) continue;
      seen.add(key);
      rules.push({ apiGroups: [k.group], apiVersions: [k.version ?? '*'], resources: [k.resource], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' } satisfies WebhookRule);
    }
    return rules.length === (w.rules?.length ?? 0) ? w : { ...w, rules };
  });
  return { ...template, webhooks };
}

/** API discovery, as much as resolving a kind needs (src/kube/discovery.ts reads it with client-node). */
export interface KindDiscovery {
  /** Every API group with its preferred version ("" for the core group, version v1). */
  groups(): Promise<readonly { readonly group: string; readonly preferredVersion: string }[]>;
  /** The resource serving `kind` in group/version, or undefined. */
  resource(group: string, version: string, kind: string): Promise<{ readonly name: string; readonly namespaced: boolean } | undefined>;
}

export interface KindResolution {
  readonly resolved: readonly ResolvedKind[];
  /** Named kinds the API server does not serve (yet): a CRD not installed. */
  readonly unresolved: readonly string[];
}

/**
 * Resolves the kinds policies name: built-in kinds from the table (no request), others by discovery (a kind without
 * group is looked up in every group's preferred version). `discovery` undefined: built-in kinds only.
 */
export async function resolveKinds(refs: readonly KindRef[], discovery: KindDiscovery | undefined): Promise<KindResolution> {
  const resolved: ResolvedKind[] = [];
  const unresolved: string[] = [];
  let groups: Awaited<ReturnType<KindDiscovery['groups']>> | undefined;
  for (const r of refs) {
    const b = BUILTIN_KINDS[r.kind];
    if (b && (r.group === undefined || r.group === b.group)) {
      resolved.push({ group: b.group, ...(r.version !== undefined ? { version: r.version } : {}), preferredVersion: b.version, resource: b.resource, namespaced: b.namespaced, kind: r.kind });
      continue;
    }
    if (!discovery) {
      unresolved.push(r.text);
      continue;
    }
    groups ??= await discovery.groups();
    const candidates = groups.filter((g) => r.group === undefined || g.group === r.group);
    let found = false;
    for (const g of candidates) {
      const res = await discovery.resource(g.group, r.version ?? g.preferredVersion, r.kind);
      if (!res) continue;
      found = true;
      resolved.push({ group: g.group, ...(r.version !== undefined ? { version: r.version } : {}), preferredVersion: g.preferredVersion, resource: res.name, namespaced: res.namespaced, kind: r.kind });
    }
    if (!found) unresolved.push(r.text);
  }
  return { resolved, unresolved };
}
