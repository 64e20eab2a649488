// Serving certificates for both HTTPS servers: given files, or generated into --cert-dir; reloaded from disk on rotation.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../observability/log.js';
import { describeCert, generateCA, generateServingCert } from './certs.js';

export interface ServingCertOptions {
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly certDir: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses?: readonly string[];
}

export interface ServingCertFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** Only when generated: the CA to put in caBundle. */
  readonly caFile?: string;
  readonly generated: boolean;
}

const RENEW_BEFORE_MS = 30 * 86400_000;

/** Returns the certificate files to serve with, generating a CA and serving cert when none are given or they are near expiry. */
export async function ensureServingCert(o: ServingCertOptions, log: Logger): Promise<ServingCertFiles> {
  if (o.certFile || o.keyFile) {
    if (!o.certFile || !o.keyFile) throw new Error('--tls-cert-file and --tls-private-key-file must be given together');
    return { certFile: o.certFile, keyFile: o.keyFile, generated: false };
  }
  await mkdir(o.certDir, { recursive: true, mode: 0o700 });
  const certFile = join(o.certDir, 'tls.crt');
  const keyFile = join(o.certDir, 'tls.key');
  const caFile = join(o.certDir, 'ca.crt');
  try {
    const info = describeCert(await readFile(certFile, 'utf8'));
    const wanted = o.dnsNames.every((n) => info.dnsNames.includes(n));
    if (wanted && info.notAfter.getTime() - Date.now() > RENEW_BEFORE_MS) {
      await stat(keyFile);
      return { certFile, keyFile, caFile, generated: true };
    }
  } catch {
    // absent or unreadable: generate below
  }
  const ca = generateCA({ commonName: 'kube-governor-ca' });
  const serving = generateServingCert(ca, { commonName: o.dnsNames[0] ?? 'kube-governor', dnsNames: o.dnsNames, ipAddresses: o.ipAddresses ?? [] });
  await writeFile(caFile, ca.certPem, { mode: 0o644 });
  await writeFile(keyFile, serving.keyPem, { mode: 0o600 });
  await writeFile(certFile, serving.certPem, { mode: 0o644 });
  log.warn({ certDir: o.certDir, dnsNames: o.dnsNames }, 'no serving certificate given: generated a self-signed CA and serving certificate');
  return { certFile, keyFile, caFile, generated: true };
}

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
}

export async function readTlsMaterial(files: { certFile: string; keyFile: string }): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
  return { cert, key };
}

/**
 * Polls the certificate and key files and hands a new pair to onChange (which calls server.setSecureContext), so a
 * rotated certificate (a Secret update, cert-manager) reaches new connections without a restart; existing ones go on.
 */
export class CertFileReloader {
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  constructor(
    private readonly files: { certFile: string; keyFile: string },
    private readonly onChange: (m: TlsMaterial) => void,
    private readonly log: Logger,
    private readonly intervalMs = 5000,
  ) {}

  private async stamp(): Promise<string> {
    const [a, b] = await Promise.all([stat(this.files.certFile), stat(this.files.keyFile)]);
    return `${a.mtimeMs}:${a.size}:${b.mtimeMs}:${b.size}`;
  }

  async start(): Promise<void> {
    this.last = await this.stamp();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  async check(): Promise<boolean> {
    try {
      const s = await this.stamp();
      if (s === this.last) return false;
      const m = await readTlsMaterial(this.files);
      this.onChange(m); // throws on a mismatched pair: keep serving the old one
      this.last = s;
      this.log.info({ certFile: this.files.certFile, notAfter: describeCert(m.cert).notAfter }, 'serving certificate reloaded');
      return true;
    } catch (e) {
      this.log.error({ err: (e as Error).message, certFile: this.files.certFile }, 'rotated certificate could not be loaded; still serving the previous one');
      return false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/**
 * Polls one PEM file (a client CA bundle) and hands new contents to onChange, like CertFileReloader: a rotated CA
 * reaches new connections without a restart; contents that do not parse keep the bundle in force.
 */
export class PemFileReloader {
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  constructor(
    private readonly file: string,
    private readonly onChange: (pem: string) => void,
    private readonly log: Logger,
    private readonly intervalMs = 5000,
  ) {}

  private async stamp(): Promise<string> {
    const a = await stat(this.file);
    return `${a.mtimeMs}:${a.size}`;
  }

  async start(): Promise<void> {
    this.last = await this.stamp();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  async check(): Promise<boolean> {
    try {
      const s = await this.stamp();
      if (s === this.last) return false;
      const pem = await readFile(this.file, 'utf8');
      this.onChange(pem); // throws on a bundle that does not parse: keep the old one
      this.last = s;
      this.log.info({ file: this.file }, 'client CA bundle reloaded');
      return true;
    } catch (e) {
      this.log.error({ err: (e as Error).message, file: this.file }, 'changed client CA bundle could not be loaded; still using the previous one');
      return false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
