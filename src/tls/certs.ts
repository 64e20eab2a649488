// Certificate authority and leaf certificates with node-forge (keys come from node:crypto, which is native and fast).
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

const { pki } = forge;

export interface KeyPairPem {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertOptions {
  readonly commonName: string;
  /** Days of validity from now (default 365). */
  readonly validityDays?: number;
  /** Start of validity; default: one hour ago, to tolerate clock skew. */
  readonly notBefore?: Date;
  readonly organization?: readonly string[];
}

function newKeys(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { privateKey: forgeKey, publicKey: pki.setRsaPublicKey(forgeKey.n, forgeKey.e), keyPem };
}

function baseCert(publicKey: forge.pki.PublicKey, o: CertOptions): forge.pki.Certificate {
  const cert = pki.createCertificate();
  cert.publicKey = publicKey;
  // Positive 16-byte serial (leading byte < 0x80).
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString('hex');
  const from = o.notBefore ?? new Date(Date.now() - 3600_000);
  cert.validity.notBefore = from;
  cert.validity.notAfter = new Date(from.getTime() + (o.validityDays ?? 365) * 86400_000);
  const subject: forge.pki.CertificateField[] = [{ name: 'commonName', value: o.commonName }];
  for (const org of o.organization ?? []) subject.push({ name: 'organizationName', value: org });
  cert.setSubject(subject);
  return cert;
}

/** A self-signed CA. */
export function generateCA(o: CertOptions): KeyPairPem {
  const { privateKey, publicKey, keyPem } = newKeys();
  const cert = baseCert(publicKey, { validityDays: 3650, ...o });
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return { certPem: pki.certificateToPem(cert), keyPem };
}

function signLeaf(ca: KeyPairPem, o: CertOptions, extensions: any[]): KeyPairPem {
  const caCert = pki.certificateFromPem(ca.certPem);
  const caKey = pki.privateKeyFromPem(ca.keyPem);
  const { publicKey, keyPem } = newKeys();
  const cert = baseCert(publicKey, o);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    ...extensions,
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: pki.certificateToPem(cert), keyPem };
}

/** A serving certificate for the given DNS names and IP addresses (subjectAltName), signed by the CA. */
export function generateServingCert(ca: KeyPairPem, o: CertOptions & { dnsNames: readonly string[]; ipAddresses?: readonly string[] }): KeyPairPem {
  const altNames = [...o.dnsNames.map((value) => ({ type: 2, value })), ...(o.ipAddresses ?? []).map((ip) => ({ type: 7, ip }))];
  return signLeaf(ca, o, [{ name: 'extKeyUsage', serverAuth: true }, { name: 'subjectAltName', altNames }]);
}

/** A client certificate (CN = user, O = groups), e.g. the aggregator's front-proxy identity in tests. */
export function generateClientCert(ca: KeyPairPem, o: CertOptions): KeyPairPem {
  return signLeaf(ca, o, [{ name: 'extKeyUsage', clientAuth: true }]);
}

/** DNS names a Service is reached by, as the aggregator and webhooks verify them. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

export interface CertInfo {
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly dnsNames: string[];
}

export function describeCert(pem: string): CertInfo {
  const c = pki.certificateFromPem(pem);
  const san = c.getExtension('subjectAltName') as { altNames?: { type: number; value: string }[] } | undefined;
  return {
    subject: String(c.subject.getField('CN')?.value ?? ''),
    issuer: String(c.issuer.getField('CN')?.value ?? ''),
    notBefore: c.validity.notBefore,
    notAfter: c.validity.notAfter,
    dnsNames: (san?.altNames ?? []).filter((a) => a.type === 2).map((a) => a.value),
  };
}

/**
 * A CA bundle to verify client certificates with: every PEM block must be a certificate that parses, and there must be
 * one at least. TLS would otherwise skip what it cannot read, or fall back to the public roots on an empty bundle.
 */
export function parseCaBundle(pem: string, source: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw new Error(`${source}: no PEM certificate in the CA bundle`);
  for (const [i, b] of blocks.entries()) {
    try {
      new X509Certificate(b);
    } catch (e) {
      throw new Error(`${source}: certificate ${i + 1} of the CA bundle does not parse: ${(e as Error).message}`);
    }
  }
  return blocks.join('\n');
}
