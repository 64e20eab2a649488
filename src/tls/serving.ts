// Serving certificates for both HTTPS servers: given files, or generated into --cert-dir; reloaded from disk on rotation.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../observability/log.js';
import { describeCert, generateCA, generateServingCert } from './certs.js';
import { ConfigError } from '../common/errors.js';

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
    if (!o.certFile || !o.keyFile) throw new ConfigError('--tls-cert-file and --tls-private-key-file must be given together');
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
 * Polls files (by mtime and size) and hands what `read` makes of them to onChange when they change, so rotated
 * material reaches new connections without a restart; if reading or onChange throws, what is in force stays.
 */
abstract class PolledFiles<T> {
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  constructor(
    private readonly files: readonly string[],
    private readonly onChange: (value: T) => void,
    protected readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  protected abstract read(): Promise<T>;
  protected abstract loaded(value: T): void;
  protected abstract failed(err: Error): void;

  private async stamp(): Promise<string> {
    const st = await Promise.all(this.files.map((f) => stat(f)));
    return st.map((a) => `${a.mtimeMs}:${a.size}`).join(':');
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
      const value = await this.read();
      this.onChange(value);
      this.last = s;
      this.loaded(value);
      return true;
    } catch (e) {
      this.failed(e as Error);
      return false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/**
 * Polls the certificate and key files and hands a new pair to onChange (which calls server.setSecureContext), so a
 * rotated certificate (a Secret update, cert-manager) reaches new connections without a restart; existing ones go on.
 * A mismatched pair makes onChange throw: the old one keeps serving.
 */
export class CertFileReloader extends PolledFiles<TlsMaterial> {
  constructor(private readonly pair: { certFile: string; keyFile: string }, onChange: (m: TlsMaterial) => void, log: Logger, intervalMs = 5000) {
    super([pair.certFile, pair.keyFile], onChange, log, intervalMs);
  }
  protected read(): Promise<TlsMaterial> {
    return readTlsMaterial(this.pair);
  }
  protected loaded(m: TlsMaterial): void {
    this.log.info({ certFile: this.pair.certFile, notAfter: describeCert(m.cert).notAfter }, 'serving certificate reloaded');
  }
  protected failed(err: Error): void {
    this.log.error({ err: err.message, certFile: this.pair.certFile }, 'rotated certificate could not be loaded; still serving the previous one');
  }
}

/**
 * Polls one PEM file (a client CA bundle) and hands new contents to onChange, like CertFileReloader: a rotated CA
 * reaches new connections without a restart; contents that do not parse (onChange throws) keep the bundle in force.
 */
export class PemFileReloader extends PolledFiles<string> {
  constructor(private readonly file: string, onChange: (pem: string) => void, log: Logger, intervalMs = 5000) {
    super([file], onChange, log, intervalMs);
  }
  protected read(): Promise<string> {
    return readFile(this.file, 'utf8');
  }
  protected loaded(): void {
    this.log.info({ file: this.file }, 'client CA bundle reloaded');
  }
  protected failed(err: Error): void {
    this.log.error({ err: err.message, file: this.file }, 'changed client CA bundle could not be loaded; still using the previous one');
  }
}
