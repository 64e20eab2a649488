// Compiles the `load` block shared by ScalingPolicy and MigrationPolicy, and checks what its schema cannot express.
import { parseDuration } from '../common/duration.js';
import type { Issue } from './kind.js';
import type { LoadSource, SourceAuth } from './types.js';

/** RFC 9110 field-name (token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Headers a policy or flag may not set: hop-by-hop ones (RFC 9110 §7.6.1, a proxy would strip or misread them), the
 * ones the source itself sets (Host, Content-Type, Content-Length), and Expect (fetch refuses it).
 */
const RESERVED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-type',
  'content-length',
  'expect',
]);

/**
 * Problems with extra headers, as messages keyed by header name (values are never quoted: they may be secrets).
 * `authSet`: bearerTokenFile or basicAuth is configured, so an Authorization header would fight it.
 */
export function sourceHeaderProblems(headers: Readonly<Record<string, string>>, authSet: boolean): { name: string; message: string }[] {
  const out: { name: string; message: string }[] = [];
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) out.push({ name, message: `"${name}" is not a valid header name` });
    else if (RESERVED_HEADERS.has(lower)) out.push({ name, message: `header ${name} cannot be set on a load source (hop-by-hop or set by the source itself)` });
    else if (lower === 'authorization' && authSet) out.push({ name, message: 'header Authorization conflicts with bearerTokenFile/basicAuth: use one of them' });
    else if (seen.has(lower)) out.push({ name, message: `header ${name} is given twice (header names are case-insensitive)` });
    else if (/[\r\n\0]/.test(value)) out.push({ name, message: `the value of header ${name} contains a line break or NUL` });
    seen.add(lower);
  }
  return out;
}

/** spec.interval of a kind that reads a load source, in ms: at least 1s (an issue otherwise). */
export function loadInterval(spec: any, issues: Issue[]): number {
  const ms = parseDuration(spec.interval);
  if (ms < 1000) issues.push({ path: ['spec', 'interval'], message: 'interval must be at least 1s' });
  return ms;
}

/** What a kind that reads a load source compiles from it (once loadIssues found nothing): the load and its thresholds. */
export function compileLoadReading(spec: any): { load: LoadSource; thresholds: { low: number; high: number } } {
  return { load: compileLoad(spec.load), thresholds: { low: spec.thresholds.low, high: spec.thresholds.high } };
}

/** Semantic checks of spec.load (paths relative to the document root). */
export function loadIssues(load: any): Issue[] {
  const type = load?.prometheus ? 'prometheus' : 'http';
  const b = load?.[type];
  if (!b) return [];
  const at = (...p: string[]) => ['spec', 'load', type, ...p];
  const issues: Issue[] = [];
  if (b.bearerTokenFile && b.basicAuth) issues.push({ path: at('basicAuth'), message: 'use either bearerTokenFile or basicAuth, not both' });
  if (b.basicAuth && (b.basicAuth.username === undefined) === (b.basicAuth.usernameFile === undefined)) {
    issues.push({ path: at('basicAuth'), message: 'basicAuth needs exactly one of username or usernameFile' });
  }
  if (b.tls && (b.tls.certFile === undefined) !== (b.tls.keyFile === undefined)) {
    issues.push({ path: at('tls'), message: 'tls.certFile and tls.keyFile go together (a client certificate needs its key)' });
  }
  if (b.headers) {
    for (const p of sourceHeaderProblems(b.headers, Boolean(b.bearerTokenFile || b.basicAuth))) issues.push({ path: at('headers', p.name), message: p.message });
  }
  return issues;
}

function compileAuth(b: any): { auth?: SourceAuth } {
  const auth: SourceAuth = {
    ...(b.bearerTokenFile ? { bearerTokenFile: b.bearerTokenFile } : {}),
    ...(b.basicAuth
      ? {
          basicAuth: {
            ...(b.basicAuth.username !== undefined ? { username: b.basicAuth.username } : {}),
            ...(b.basicAuth.usernameFile !== undefined ? { usernameFile: b.basicAuth.usernameFile } : {}),
            passwordFile: b.basicAuth.passwordFile,
          },
        }
      : {}),
    ...(b.tls && Object.keys(b.tls).length ? { tls: { ...b.tls } } : {}),
    ...(b.headers && Object.keys(b.headers).length ? { headers: { ...b.headers } } : {}),
  };
  return Object.keys(auth).length ? { auth } : {};
}

export function compileLoad(load: any): LoadSource {
  if (load.prometheus) {
    const p = load.prometheus;
    return {
      type: 'prometheus',
      query: p.query,
      ...(p.url ? { url: p.url } : {}),
      ...(p.timeout ? { timeoutMs: parseDuration(p.timeout) } : {}),
      ...compileAuth(p),
    };
  }
  const h = load.http;
  return { type: 'http', url: h.url, valuePath: h.valuePath ?? '', ...(h.timeout ? { timeoutMs: parseDuration(h.timeout) } : {}), ...compileAuth(h) };
}
