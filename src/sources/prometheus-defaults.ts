// The server's --prometheus-* credential, TLS and header flags as one SourceAuth, checked once at start-up.
import type { SourceAuth } from '../policy/types.js';
import { sourceHeaderProblems } from '../policy/load-source.js';
import { ConfigError } from '../common/errors.js';

export interface PrometheusAuthFlags {
  readonly bearerTokenFile?: string;
  readonly basicAuthUsernameFile?: string;
  readonly basicAuthPasswordFile?: string;
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly serverName?: string;
  /** `Name=value` pairs (--prometheus-header, repeatable). */
  readonly headers?: readonly string[];
}

/**
 * The defaults for loads that use --prometheus-url, or undefined when no flag is set. Throws an Error naming the flag
 * for contradictory or malformed flags (header values are never quoted: they may be secrets).
 */
export function prometheusDefaults(f: PrometheusAuthFlags, prometheusUrl: string): SourceAuth | undefined {
  const headers: Record<string, string> = {};
  for (const kv of f.headers ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new ConfigError(`--prometheus-header expects Name=value, got a value without "=" or without a name`);
    headers[kv.slice(0, i).trim()] = kv.slice(i + 1);
  }
  if (f.bearerTokenFile && (f.basicAuthUsernameFile || f.basicAuthPasswordFile)) {
    throw new ConfigError('use either --prometheus-bearer-token-file or --prometheus-basic-auth-*-file, not both');
  }
  if (Boolean(f.basicAuthUsernameFile) !== Boolean(f.basicAuthPasswordFile)) {
    throw new ConfigError('--prometheus-basic-auth-username-file and --prometheus-basic-auth-password-file go together');
  }
  if (Boolean(f.certFile) !== Boolean(f.keyFile)) throw new ConfigError('--prometheus-cert-file and --prometheus-key-file go together');
  const problems = sourceHeaderProblems(headers, Boolean(f.bearerTokenFile || f.basicAuthPasswordFile));
  if (problems.length) throw new ConfigError(`--prometheus-header: ${problems.map((p) => p.message).join('; ')}`);
  const tls = {
    ...(f.caFile ? { caFile: f.caFile } : {}),
    ...(f.certFile ? { certFile: f.certFile } : {}),
    ...(f.keyFile ? { keyFile: f.keyFile } : {}),
    ...(f.serverName ? { serverName: f.serverName } : {}),
  };
  if (Object.keys(tls).length && !/^https:/i.test(prometheusUrl)) {
    throw new ConfigError('--prometheus-ca-file, --prometheus-cert-file, --prometheus-key-file and --prometheus-server-name need an https --prometheus-url');
  }
  const auth: SourceAuth = {
    ...(f.bearerTokenFile ? { bearerTokenFile: f.bearerTokenFile } : {}),
    ...(f.basicAuthPasswordFile ? { basicAuth: { usernameFile: f.basicAuthUsernameFile!, passwordFile: f.basicAuthPasswordFile } } : {}),
    ...(Object.keys(tls).length ? { tls } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
  };
  return Object.keys(auth).length ? auth : undefined;
}
