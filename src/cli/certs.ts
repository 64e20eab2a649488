// `governor certs`: creates or renews the CA and serving certificate, stores them in Secrets and/or a directory, and
// publishes the CA bundle to the APIService and both webhook configurations, rotating the CA with an overlap.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { generateCA, generateServingCert, serviceDnsNames } from '../tls/certs.js';
import { parseDuration } from '../common/duration.js';
import { pemCertificates } from '../common/pem.js';
import { kubeOptions } from './conventions.js';
import { cliKubeConfig } from './kube-flags.js';
import {
  APISERVICE_NAME,
  WEBHOOK_CONFIGURATION_NAME,
  caBundleTargets,
  KubeObjectStore,
  publishCaBundle,
  readSecretData,
  writeSecret,
  type CaBundleOutcome,
  type ObjectStore,
} from '../kube/cabundle.js';

const DAY_MS = 86_400_000;

/** What is already stored (any part may be missing). `caBundle` is the published bundle, PEMs concatenated. */
export interface ExistingMaterial {
  readonly caCert?: string;
  readonly caKey?: string;
  readonly caBundle?: string;
  readonly servingCert?: string;
  readonly servingKey?: string;
}

export interface CertMaterial {
  readonly caCert: string;
  readonly caKey: string;
  /** Current CA first, then older CAs that are still valid (kept until they expire, so rotation never breaks trust). */
  readonly caBundle: readonly string[];
  readonly servingCert: string;
  readonly servingKey: string;
}

export interface CertPolicy {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly validityDays: number;
  readonly caValidityDays: number;
  /** Renew a certificate (CA or serving) when it expires within this many milliseconds. */
  readonly renewBeforeMs: number;
  readonly now: Date;
}

export interface CertPlan {
  readonly material: CertMaterial;
  readonly ca: 'kept' | 'created' | 'rotated';
  readonly serving: 'kept' | 'issued';
  /** Why something was (re)generated, for the user. */
  readonly reasons: readonly string[];
}

/** Invalid flag combinations, reported before anything is generated. */
export class CertOptionsError extends Error {
  override name = 'CertOptionsError';
}

export function splitPem(text: string | undefined): string[] {
  return pemCertificates(text ?? '').map((p) => `${p}\n`);
}

function parse(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function keyMatches(cert: X509Certificate, keyPem: string | undefined): boolean {
  if (!keyPem) return false;
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

function sans(cert: X509Certificate): { dns: Set<string>; ip: Set<string> } {
  const dns = new Set<string>();
  const ip = new Set<string>();
  for (const entry of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (entry.startsWith('DNS:')) dns.add(entry.slice(4));
    else if (entry.startsWith('IP Address:')) ip.add(entry.slice(11).toLowerCase());
  }
  return { dns, ip };
}

/** Normalises an IPv6 address the way OpenSSL prints it (no zero compression), so SAN comparisons are exact. */
function ipForm(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => g.replace(/^0+(?=.)/, '').toUpperCase()).join(':').toLowerCase();
}

const expires = (c: X509Certificate) => new Date(c.validTo).getTime();

export function validatePolicy(p: Omit<CertPolicy, 'now'>): void {
  if (!(p.validityDays > 0) || !(p.caValidityDays > 0)) throw new CertOptionsError('validity must be a positive number of days');
  if (p.validityDays > p.caValidityDays) throw new CertOptionsError('--validity-days must not exceed --ca-validity-days');
  // Renewing less than half-way through would re-issue on nearly every run.
  if (!(p.renewBeforeMs > 0) || p.renewBeforeMs * 2 > p.validityDays * DAY_MS) {
    throw new CertOptionsError('--renew-before must be positive and at most half of --validity-days');
  }
  if (p.dnsNames.length === 0) throw new CertOptionsError('the serving certificate needs at least one DNS name');
}

/**
 * Decides what to keep and what to generate. The CA is rotated when it is missing, does not match its key, or
 * expires within renewBefore; the previous CA stays in the bundle until it expires (kyverno#13639: a bundle without
 * the old CA breaks every apiserver call until the pods serve the new certificate). The serving certificate is
 * re-issued when missing, signed by another CA, missing a wanted name, or expiring within renewBefore; its validity
 * never outlasts the CA's.
 */
export function planCertificates(existing: ExistingMaterial, policy: CertPolicy): CertPlan {
  validatePolicy(policy);
  const now = policy.now.getTime();
  const reasons: string[] = [];
  const notBefore = new Date(now - 3600_000); // tolerate clock skew between us and the apiserver

  let caCert = existing.caCert ? parse(existing.caCert) : undefined;
  let ca: CertPlan['ca'] = 'kept';
  let caPem = { certPem: existing.caCert ?? '', keyPem: existing.caKey ?? '' };
  if (!caCert) {
    ca = 'created';
    reasons.push('no CA stored');
  } else if (!keyMatches(caCert, existing.caKey)) {
    ca = 'rotated';
    reasons.push('the stored CA key does not match the CA certificate');
  } else if (expires(caCert) - now <= policy.renewBeforeMs) {
    ca = 'rotated';
    reasons.push(`the CA expires ${caCert.validTo}, within the renewal window`);
  }
  if (ca !== 'kept') {
    caPem = generateCA({ commonName: 'kube-governor-ca', validityDays: policy.caValidityDays, notBefore });
    caCert = new X509Certificate(caPem.certPem);
  }

  // Bundle: current CA, then every other stored CA that is still valid (deduplicated by fingerprint).
  const seen = new Set([caCert!.fingerprint256]);
  const caBundle = [caPem.certPem];
  for (const pem of [...splitPem(existing.caBundle), ...splitPem(existing.caCert)]) {
    const c = parse(pem);
    if (!c || seen.has(c.fingerprint256) || expires(c) <= now) continue;
    seen.add(c.fingerprint256);
    caBundle.push(pem);
  }

  const wantDns = [...new Set(policy.dnsNames)];
  const wantIp = [...new Set(policy.ipAddresses)];
  const current = existing.servingCert ? parse(existing.servingCert) : undefined;
  let serving: CertPlan['serving'] = 'issued';
  if (!current) reasons.push('no serving certificate stored');
  else if (!keyMatches(current, existing.servingKey)) reasons.push('the serving key does not match the serving certificate');
  else if (!current.checkIssued(caCert!) || !current.verify(caCert!.publicKey)) reasons.push('the serving certificate is not signed by the current CA');
  else if (expires(current) - now <= policy.renewBeforeMs) reasons.push(`the serving certificate expires ${current.validTo}, within the renewal window`);
  else {
    const have = sans(current);
    const missing = [...wantDns.filter((d) => !have.dns.has(d)), ...wantIp.filter((i) => !have.ip.has(ipForm(i)))];
    if (missing.length) reasons.push(`the serving certificate lacks ${missing.join(', ')}`);
    else serving = 'kept';
  }

  let servingPem = { certPem: existing.servingCert ?? '', keyPem: existing.servingKey ?? '' };
  if (serving === 'issued') {
    const caLeftDays = (expires(caCert!) - notBefore.getTime()) / DAY_MS;
    servingPem = generateServingCert(caPem, {
      commonName: wantDns[0]!,
      dnsNames: wantDns,
      ipAddresses: wantIp,
      notBefore,
      validityDays: Math.min(policy.validityDays, caLeftDays),
    });
  }
  return {
    material: { caCert: caPem.certPem, caKey: caPem.keyPem, caBundle, servingCert: servingPem.certPem, servingKey: servingPem.keyPem },
    ca,
    serving,
    reasons,
  };
}

export interface CertsOptions {
  readonly namespace: string;
  readonly serviceName: string;
  readonly extraSans: readonly string[];
  /** TLS Secret (kubernetes.io/tls: tls.crt, tls.key, ca.crt = bundle); undefined: no Secrets. */
  readonly secret?: string;
  /** Opaque Secret with the CA key (ca.crt, ca.key); never mounted by the server. */
  readonly caSecret: string;
  readonly outDir?: string;
  readonly patch: boolean;
  readonly webhookConfiguration: string;
  readonly apiService: string;
  readonly validityDays: number;
  readonly caValidityDays: number;
  readonly renewBeforeMs: number;
}

/** Names shared with manifests/base (test/manifests checks they agree). */
export const TLS_SECRET = 'kube-governor-tls';
export const CA_SECRET = 'kube-governor-ca';

const LABELS = { 'app.kubernetes.io/name': 'kube-governor', 'app.kubernetes.io/managed-by': 'governor-certs' };

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The CA whose key we hold is whichever bundle entry matches ca.key (we write it first, but do not rely on it). */
function currentCaFromBundle(bundle: string | undefined, key: string | undefined): string | undefined {
  return splitPem(bundle).find((pem) => {
    const c = parse(pem);
    return c && keyMatches(c, key);
  }) ?? splitPem(bundle)[0];
}

async function readExisting(o: CertsOptions, store: ObjectStore | undefined): Promise<{ existing: ExistingMaterial; from: string }> {
  if (store && o.secret) {
    const caData = await readSecretData(store, o.namespace, o.caSecret);
    const tlsData = await readSecretData(store, o.namespace, o.secret);
    return {
      existing: {
        caCert: caData?.['ca.crt'],
        caKey: caData?.['ca.key'],
        caBundle: tlsData?.['ca.crt'],
        servingCert: tlsData?.['tls.crt'],
        servingKey: tlsData?.['tls.key'],
      },
      from: `Secrets ${o.namespace}/${o.caSecret} and ${o.namespace}/${o.secret}`,
    };
  }
  if (o.outDir) {
    const [bundle, caKey, servingCert, servingKey] = await Promise.all(
      ['ca.crt', 'ca.key', 'tls.crt', 'tls.key'].map((f) => readOptional(join(o.outDir!, f))),
    );
    return { existing: { caCert: currentCaFromBundle(bundle, caKey), caKey, caBundle: bundle, servingCert, servingKey }, from: o.outDir };
  }
  return { existing: {}, from: 'nothing' };
}

export interface CertsResult {
  readonly plan: CertPlan;
  readonly patches: readonly CaBundleOutcome[];
  readonly ok: boolean;
}

/**
 * The whole command, with the cluster behind an ObjectStore. Order matters for a CA rotation: the new CA is stored,
 * then the bundle (old + new CA) is published, and only then does the serving Secret switch to a certificate signed
 * by the new CA; if publishing fails, the serving Secret is left alone so the running pods stay trusted.
 */
export async function runCerts(o: CertsOptions, store: ObjectStore | undefined, now: Date, out: (line: string) => void): Promise<CertsResult> {
  // The name the apiserver verifies (<service>.<namespace>.svc) comes first and becomes the CN.
  const svc = `${o.serviceName}.${o.namespace}.svc`;
  const dnsNames = [svc, ...serviceDnsNames(o.serviceName, o.namespace).filter((n) => n !== svc), ...o.extraSans.filter((s) => !isIP(s))];
  const ipAddresses = o.extraSans.filter((s) => isIP(s));
  const policy = { dnsNames, ipAddresses, validityDays: o.validityDays, caValidityDays: o.caValidityDays, renewBeforeMs: o.renewBeforeMs, now };
  validatePolicy(policy);
  if ((o.secret || o.patch) && !store) throw new CertOptionsError('no cluster access: pass --kubeconfig (or run in a pod), or use --out-dir with --no-secret --no-patch');
  if (!o.secret && !o.patch && !o.outDir) throw new CertOptionsError('nothing to do: give --out-dir, or allow the Secret or the caBundle patch');

  const { existing, from } = await readExisting(o, store);
  const plan = planCertificates(existing, policy);
  const caInfo = new X509Certificate(plan.material.caCert);
  const servingInfo = new X509Certificate(plan.material.servingCert);
  out(`read existing material from ${from}`);
  for (const r of plan.reasons) out(`  ${r}`);
  out(`CA: ${plan.ca} (expires ${caInfo.validTo}); caBundle holds ${plan.material.caBundle.length} CA(s)`);
  out(`serving certificate: ${plan.serving} for ${dnsNames[0]} (expires ${servingInfo.validTo})`);

  const bundle = plan.material.caBundle.join('');
  if (store && o.secret) {
    const r = await writeSecret(store, {
      namespace: o.namespace,
      name: o.caSecret,
      type: 'Opaque',
      data: { 'ca.crt': plan.material.caCert, 'ca.key': plan.material.caKey },
      labels: LABELS,
    });
    out(`Secret ${o.namespace}/${o.caSecret}: ${r}`);
  }

  let patches: CaBundleOutcome[] = [];
  if (store && o.patch) {
    patches = await publishCaBundle(store, caBundleTargets(o.webhookConfiguration, o.apiService), bundle);
    for (const p of patches) {
      out(`${p.target.kind} ${p.target.name}: caBundle ${p.result}${p.result === 'failed' ? `: ${p.message}` : ''}${p.result === 'not-found' ? ' (not registered yet: the server registers it with this bundle once it serves)' : ''}`);
    }
  }
  // A missing target trusts nothing yet: the server registers it itself, with the bundle of the Secret written below
  // (src/kube/registrar.ts). Only a target that exists and could not be updated holds the Secret back.
  const published = patches.every((p) => p.result !== 'failed');

  if (store && o.secret) {
    const servingTrusted = !o.patch || published;
    if (servingTrusted) {
      const r = await writeSecret(store, {
        namespace: o.namespace,
        name: o.secret,
        type: 'kubernetes.io/tls',
        data: { 'tls.crt': plan.material.servingCert, 'tls.key': plan.material.servingKey, 'ca.crt': bundle },
        labels: LABELS,
      });
      out(`Secret ${o.namespace}/${o.secret}: ${r}`);
    } else {
      out(`Secret ${o.namespace}/${o.secret}: not written, because the caBundle could not be published everywhere`);
    }
  }

  if (o.outDir) {
    await mkdir(o.outDir, { recursive: true, mode: 0o700 });
    await writeFile(join(o.outDir, 'ca.crt'), bundle, { mode: 0o644 });
    await writeFile(join(o.outDir, 'ca.key'), plan.material.caKey, { mode: 0o600 });
    await writeFile(join(o.outDir, 'tls.key'), plan.material.servingKey, { mode: 0o600 });
    await writeFile(join(o.outDir, 'tls.crt'), plan.material.servingCert, { mode: 0o644 });
    out(`wrote ca.crt, ca.key, tls.crt, tls.key to ${o.outDir}`);
  }
  return { plan, patches, ok: published };
}

/** "30d", or a Go-style duration ("720h"). */
export function parseRenewBefore(text: string): number {
  const days = /^(\d+(?:\.\d+)?)d$/.exec(text.trim());
  return days ? Number(days[1]) * DAY_MS : parseDuration(text);
}

const positive = (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new Error(`"${v}" is not a positive number`);
  return n;
};
const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

export function registerCerts(program: Command): void {
  kubeOptions(
    program
      .command('certs')
      .description('create or renew the CA and serving certificate, store them, and publish the caBundle to the APIService and webhooks')
      .option('-n, --namespace <ns>', 'namespace of the Service and the Secrets', 'kube-governor')
      .option('--service-name <name>', 'Service the apiserver calls (certificate SANs: <name>.<ns>.svc, …)', 'kube-governor')
      .option('--extra-san <names>', 'additional DNS names or IP addresses (repeatable, comma-separated)', list)
      .option('--secret <name>', 'TLS Secret for the server (tls.crt, tls.key, ca.crt)', TLS_SECRET)
      .option('--no-secret', 'do not read or write Secrets (use --out-dir)')
      .option('--ca-secret <name>', 'Secret holding the CA key (not mounted by the server)', CA_SECRET)
      .option('--out-dir <dir>', 'also write ca.crt (bundle), ca.key, tls.crt, tls.key here; without Secrets, existing files here are renewed')
      .option('--no-patch', 'do not patch caBundle into the APIService and the webhook configurations')
      .option('--webhook-configuration <name>', 'name of the Mutating and Validating webhook configurations', WEBHOOK_CONFIGURATION_NAME)
      .option('--apiservice <name>', 'name of the APIService', APISERVICE_NAME)
  )
    .option('--validity-days <days>', 'serving certificate validity', positive, 365)
    .option('--ca-validity-days <days>', 'CA validity', positive, 1825)
    .option('--renew-before <duration>', 'renew a certificate expiring within this window ("30d", "720h")', '30d')
    .action(async (opts) => {
      const o: CertsOptions = {
        namespace: opts.namespace,
        serviceName: opts.serviceName,
        extraSans: opts.extraSan ?? [],
        secret: opts.secret === false ? undefined : opts.secret,
        caSecret: opts.caSecret,
        outDir: opts.outDir,
        patch: opts.patch !== false,
        webhookConfiguration: opts.webhookConfiguration,
        apiService: opts.apiservice,
        validityDays: opts.validityDays,
        caValidityDays: opts.caValidityDays,
        renewBeforeMs: parseRenewBefore(opts.renewBefore),
      };
      const needsCluster = Boolean(o.secret) || o.patch;
      const kc = needsCluster ? cliKubeConfig(opts) : undefined;
      const store = kc ? new KubeObjectStore(kc) : undefined;
      const result = await runCerts(o, store, new Date(), (line) => process.stdout.write(`${line}\n`));
      if (!result.ok) {
        process.stderr.write('governor certs: the caBundle was not published to every target (see above)\n');
        process.exitCode = 1;
      }
    });
}
