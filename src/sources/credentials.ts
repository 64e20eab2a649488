// Turns a load source's `auth` (file names, TLS, headers) into request headers and a TLS dispatcher, reading the files
// with a cheap freshness check so rotated credentials (projected ServiceAccount tokens) are used without a restart.
import { open, realpath, stat } from 'node:fs/promises';
import { resolve as resolvePath, sep } from 'node:path';
import { Agent } from 'undici';
import type { SourceAuth, SourceTls } from '../policy/types.js';
import { sourceHeaderProblems } from '../policy/load-source.js';
import { SourceError, SourceUnavailableError } from './errors.js';
import { base64Utf8 } from '../wire/text.js';

/** Tokens, passwords and user names are short; PEM bundles can hold many certificates. */
const MAX_SECRET_BYTES = 64 * 1024;
const MAX_PEM_BYTES = 1024 * 1024;
/** Distinct TLS settings kept at once (one connection pool each); the oldest is closed beyond this. */
const MAX_AGENTS = 256;
/** Header values shorter than this are not redacted from messages (they would mangle the text and are no secrets). */
const MIN_REDACT_LENGTH = 4;

export interface CredentialOptions {
  /** Allow `insecureSkipVerify: true` (the server's --allow-insecure-source-tls). */
  readonly allowInsecureTls?: boolean;
  /**
   * Directories under which credential files named by a policy must lie (--source-credential-dirs). Empty: policies
   * may not name files at all, so a policy cannot make the server send its own ServiceAccount token to a URL of its
   * choosing. Files from the server's own flags are not fenced.
   */
  readonly policyFileDirs?: readonly string[];
}

/** What a request needs: headers to add, a dispatcher for TLS options, and the strings to keep out of messages. */
export interface ResolvedCredentials {
  readonly headers: Record<string, string>;
  readonly dispatcher?: Agent;
  readonly secrets: readonly string[];
}

interface FileEntry {
  readonly version: string;
  readonly text: string;
}

type Ctx = { readonly query: string; readonly what: string };

const fail = (c: Ctx, message: string) => new SourceUnavailableError(`${c.what}: ${message} for query ${JSON.stringify(c.query)}`, c.query);

/**
 * Replaces every secret in a source error's message (and stack) by [redacted]: a source or a proxy may echo a header
 * or a credential back in its error text, and that text reaches logs and 503 Status bodies.
 */
export function redactSourceError<E>(e: E, secrets: readonly string[]): E {
  if (!(e instanceof SourceError) || secrets.length === 0) return e;
  const scrub = (s: string) => secrets.reduce((acc, x) => (x && acc.includes(x) ? acc.split(x).join('[redacted]') : acc), s);
  const m = scrub(e.message);
  if (m !== e.message) {
    e.message = m;
    if (e.stack) e.stack = scrub(e.stack);
  }
  return e;
}

/** The password (and user) of a URL's user info, as secrets: fetch refuses such URLs with a message that quotes them. */
export function urlSecrets(url: string): string[] {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]*)@/i.exec(url);
  if (!m) return [];
  const out = [m[1]!];
  for (const part of m[1]!.split(':')) {
    if (part.length >= MIN_REDACT_LENGTH) out.push(part);
    try {
      const d = decodeURIComponent(part);
      if (d.length >= MIN_REDACT_LENGTH) out.push(d);
    } catch {
      /* not percent-encoded */
    }
  }
  return out;
}

export class CredentialResolver {
  private readonly files = new Map<string, FileEntry>();
  private readonly reading = new Map<string, Promise<FileEntry>>();
  private readonly agents = new Map<string, { version: string; agent: Agent }>();
  private fence?: Promise<string[]>;

  constructor(private readonly o: CredentialOptions = {}) {}

  /**
   * Credentials for one request. `policy` is the load's own auth (files fenced to policyFileDirs); `defaults` the
   * server's (only given when the request goes to the server's own Prometheus URL). The policy's credential and TLS
   * settings replace the defaults; headers are merged, the policy's winning.
   */
  async resolve(url: string, policy: SourceAuth | undefined, defaults: SourceAuth | undefined, c: Ctx): Promise<ResolvedCredentials> {
    if (!policy && !defaults) return { headers: {}, secrets: urlSecrets(url) };
    const headers: Record<string, string> = {};
    const secrets: string[] = urlSecrets(url);
    const byLower = new Map<string, string>();
    for (const h of [defaults?.headers, policy?.headers]) {
      for (const [k, v] of Object.entries(h ?? {})) {
        const prev = byLower.get(k.toLowerCase());
        if (prev !== undefined) delete headers[prev];
        byLower.set(k.toLowerCase(), k);
        headers[k] = v;
        if (v.length >= MIN_REDACT_LENGTH) secrets.push(v);
      }
    }
    const policyCred = policy?.bearerTokenFile || policy?.basicAuth;
    const cred = policyCred ? { auth: policy!, trusted: false } : defaults?.bearerTokenFile || defaults?.basicAuth ? { auth: defaults, trusted: true } : undefined;
    const problems = sourceHeaderProblems(headers, Boolean(cred));
    if (problems.length) throw fail(c, problems.map((p) => p.message).join('; '));

    if (cred?.auth.bearerTokenFile) {
      const token = await this.secret(cred.auth.bearerTokenFile, cred.trusted, 'bearer token file', c);
      headers.authorization = `Bearer ${token}`;
      secrets.push(token);
    } else if (cred?.auth.basicAuth) {
      const b = cred.auth.basicAuth;
      const user = b.usernameFile ? await this.secret(b.usernameFile, cred.trusted, 'basic auth username file', c) : (b.username ?? '');
      const password = await this.secret(b.passwordFile, cred.trusted, 'basic auth password file', c);
      if (user.includes(':')) throw fail(c, 'the basic auth user name contains ":"');
      const encoded = base64Utf8(`${user}:${password}`);
      headers.authorization = `Basic ${encoded}`;
      secrets.push(password, encoded);
      if (b.usernameFile && user.length >= MIN_REDACT_LENGTH) secrets.push(user);
    }

    const tls = policy?.tls ? { tls: policy.tls, trusted: false } : defaults?.tls ? { tls: defaults.tls, trusted: true } : undefined;
    if (!tls) return { headers, secrets };
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw fail(c, 'invalid URL');
    }
    if (protocol !== 'https:') throw fail(c, 'tls options are set but the URL is not https');
    return { headers, secrets, dispatcher: await this.agent(tls.tls, tls.trusted, c) };
  }

  /** Closes every TLS connection pool (server shutdown). */
  async close(): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((a) => a.agent.close().catch(() => undefined)));
  }

  private async agent(t: SourceTls, trusted: boolean, c: Ctx): Promise<Agent> {
    if (t.insecureSkipVerify && !this.o.allowInsecureTls) {
      throw fail(c, 'tls.insecureSkipVerify is refused: the server was not started with --allow-insecure-source-tls');
    }
    if ((t.certFile === undefined) !== (t.keyFile === undefined)) throw fail(c, 'tls certFile and keyFile go together');
    const [ca, cert, key] = await Promise.all(
      [t.caFile, t.certFile, t.keyFile].map((f, i) => (f ? this.file(f, trusted, MAX_PEM_BYTES, ['tls CA file', 'tls certificate file', 'tls key file'][i]!, c) : undefined)),
    );
    const id = JSON.stringify([t.caFile, t.certFile, t.keyFile, t.serverName, Boolean(t.insecureSkipVerify)]);
    const version = [ca, cert, key].map((f) => f?.version ?? '').join('|');
    const have = this.agents.get(id);
    if (have && have.version === version) return have.agent;
    const agent = new Agent({
      connect: {
        ...(ca ? { ca: ca.text } : {}),
        ...(cert ? { cert: cert.text } : {}),
        ...(key ? { key: key.text } : {}),
        ...(t.serverName ? { servername: t.serverName } : {}),
        rejectUnauthorized: !t.insecureSkipVerify,
      },
    });
    // A rotated certificate or CA: new connections use the new files; requests in flight finish on the old pool.
    if (have) void have.agent.close().catch(() => undefined);
    this.agents.delete(id);
    this.agents.set(id, { version, agent });
    if (this.agents.size > MAX_AGENTS) {
      const [oldest, a] = this.agents.entries().next().value!;
      this.agents.delete(oldest);
      void a.agent.close().catch(() => undefined);
    }
    return agent;
  }

  /** A credential: the file's text without surrounding whitespace (as Prometheus reads credentials files). */
  private async secret(path: string, trusted: boolean, what: string, c: Ctx): Promise<string> {
    const v = (await this.file(path, trusted, MAX_SECRET_BYTES, what, c)).text.trim();
    if (v === '') throw fail(c, `${what} ${path} is empty`);
    // Never quote the value: it is the secret.
    if (/[\0-\x08\x0a-\x1f\x7f]/.test(v)) throw fail(c, `${what} ${path} holds characters not allowed in an HTTP header`);
    return v;
  }

  private async allowedDirs(): Promise<string[]> {
    this.fence ??= Promise.all((this.o.policyFileDirs ?? []).map((d) => realpath(resolvePath(d)).catch(() => resolvePath(d))));
    return this.fence;
  }

  /** Reads a file when it is new or changed (inode, size or mtime), else returns the cached text. */
  private async file(path: string, trusted: boolean, maxBytes: number, what: string, c: Ctx): Promise<FileEntry> {
    let real: string;
    try {
      real = trusted ? path : await realpath(path);
    } catch (e) {
      throw fail(c, `cannot read ${what} ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!trusted) {
      const dirs = await this.allowedDirs();
      if (!dirs.some((d) => real === d || real.startsWith(d.endsWith(sep) ? d : d + sep))) {
        throw fail(c, `${what} ${path} is not under --source-credential-dirs${dirs.length ? ` (${dirs.join(',')})` : ' (none set: policies may not name credential files)'}`);
      }
    }
    let version: string;
    try {
      const s = await stat(real);
      if (!s.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
      if (s.size > maxBytes) throw Object.assign(new Error('too large'), { code: `larger than ${maxBytes} bytes` });
      version = `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    } catch (e) {
      throw fail(c, `cannot read ${what} ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const have = this.files.get(real);
    if (have?.version === version) return have;
    const key = `${real}\n${version}`;
    let p = this.reading.get(key);
    if (!p) {
      p = readBounded(real, maxBytes).then(
        (text) => {
          const entry = { version, text };
          // Rotations by symlink swap (Secret and projected volumes) leave one dead path each: keep the map bounded.
          if (this.files.size >= 1024) this.files.clear();
          this.files.set(real, entry);
          return entry;
        },
        (e) => {
          throw fail(c, `cannot read ${what} ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
        },
      );
      this.reading.set(key, p);
      void p.finally(() => this.reading.delete(key)).catch(() => undefined);
    }
    return p;
  }
}

/** Reads at most maxBytes (the file may grow between stat and read). */
async function readBounded(path: string, maxBytes: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > maxBytes) throw Object.assign(new Error('too large'), { code: `larger than ${maxBytes} bytes` });
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    await fh.close();
  }
}
