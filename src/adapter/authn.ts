// Authentication as an extension API server: front-proxy headers only from a request-header CA cert with an allowed CN; else a client-CA cert's own identity.
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import type { UserInfo } from '../kube/authorization.js';
import type { ExtensionAuthConfig } from '../kube/extension-auth.js';
import { pemCertificates } from '../common/pem.js';

/** The same trust settings the extension-apiserver-authentication ConfigMap carries (one shape for both). */
export type AuthnConfig = ExtensionAuthConfig;

/**
 * Every authenticated user is also in system:authenticated, as kube-apiserver's AuthenticatedGroupAdder does. The
 * aggregator's discovery requests come as system:kube-aggregator with no groups; without this, SubjectAccessReview
 * denies them (RBAC's system:discovery role is bound to system:authenticated).
 */
export function withAuthenticated(username: string, groups: readonly string[]): string[] {
  if (username === 'system:anonymous' || groups.includes('system:authenticated')) return [...groups];
  return [...groups, 'system:authenticated'];
}

export type AuthnResult =
  | { readonly ok: true; readonly user: UserInfo; readonly via: 'requestheader' | 'client-cert' }
  | { readonly ok: false; readonly reason: string };

/** What a connection's client certificate proves (the per-request headers are read separately). */
type PeerIdentity =
  | { readonly ok: false; readonly reason: string }
  | { readonly ok: true; readonly fromRequestHeaderCa: boolean; readonly fromClientCa: boolean; readonly cn: string; readonly organizations: string[] };

export class AuthnConfigError extends Error {
  override name = 'AuthnConfigError';
}

/** Splits a PEM bundle into certificates (throws AuthnConfigError naming the bundle when one is not a certificate). */
export function parseBundle(pem: string, what: string): X509Certificate[] {
  const blocks = pemCertificates(pem);
  if (blocks.length === 0) throw new AuthnConfigError(`${what} contains no PEM certificate`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new AuthnConfigError(`${what}: certificate ${i + 1} cannot be parsed: ${(e as Error).message}`);
    }
  });
}

function firstField(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
function allFields(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export class RequestAuthenticator {
  private readonly rhFingerprints: Set<string>;
  private readonly clientFingerprints: Set<string>;
  /** The `ca` for the TLS server: both bundles, so the handshake verifies chains to either. */
  readonly trustBundle: string | undefined;

  constructor(private readonly c: AuthnConfig) {
    const rh = c.requestheaderClientCa ? parseBundle(c.requestheaderClientCa, 'request-header client CA') : [];
    const client = c.clientCa ? parseBundle(c.clientCa, 'client CA') : [];
    this.rhFingerprints = new Set(rh.map((x) => x.fingerprint256));
    this.clientFingerprints = new Set(client.map((x) => x.fingerprint256));
    const all = [...rh, ...client].map((x) => x.toString().trim());
    this.trustBundle = all.length ? `${all.join('\n')}\n` : undefined;
  }

  get configured(): boolean {
    return this.trustBundle !== undefined;
  }

  /**
   * What the client certificate of one TLS connection proves, computed once per connection: getPeerCertificate(true)
   * builds the whole chain in JavaScript, too costly to repeat on every request of a keep-alive connection. The certificate
   * cannot change within a connection: renegotiation is refused on every server socket (src/server/https.ts), and a
   * TLS 1.3 connection cannot renegotiate at all.
   */
  private readonly peers = new WeakMap<object, PeerIdentity>();

  private peerIdentity(socket: TLSSocket): PeerIdentity {
    let id = this.peers.get(socket);
    if (id) return id;
    const peer = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
    if (!peer || !peer.raw) id = { ok: false, reason: 'no client certificate' };
    else if (!socket.authorized) id = { ok: false, reason: `client certificate rejected: ${String(socket.authorizationError ?? 'not verified')}` };
    else {
      // Which trusted CA the verified chain ends in: the handshake accepted either bundle; we must know which one.
      const anchors = new Set<string>();
      for (let c: DetailedPeerCertificate | undefined = peer; c && c.raw && !anchors.has(c.fingerprint256); c = c.issuerCertificate) anchors.add(c.fingerprint256);
      id = {
        ok: true,
        fromRequestHeaderCa: [...anchors].some((f) => this.rhFingerprints.has(f)),
        fromClientCa: [...anchors].some((f) => this.clientFingerprints.has(f)),
        cn: firstField(peer.subject?.CN) ?? '',
        organizations: allFields(peer.subject?.O),
      };
    }
    this.peers.set(socket, id);
    return id;
  }

  authenticate(req: IncomingMessage): AuthnResult {
    const socket = req.socket as Partial<TLSSocket>;
    if (typeof socket.getPeerCertificate !== 'function') return { ok: false, reason: 'not a TLS connection' };
    const id = this.peerIdentity(socket as TLSSocket);
    if (!id.ok) return id;
    const { fromRequestHeaderCa, fromClientCa, cn } = id;

    if (fromRequestHeaderCa) {
      const allowed = this.c.requestheaderAllowedNames;
      const username = this.header(req, this.c.requestheaderUsernameHeaders);
      if (allowed.length > 0 && !allowed.includes(cn)) {
        if (!fromClientCa) return { ok: false, reason: `front-proxy certificate CN "${cn}" is not an allowed request-header name` };
      } else if (username) {
        return { ok: true, via: 'requestheader', user: { username, groups: withAuthenticated(username, this.groups(req)), extra: this.extra(req) } };
      } else if (!fromClientCa) {
        return { ok: false, reason: `front-proxy certificate "${cn}" sent no ${this.c.requestheaderUsernameHeaders.join('/')} header` };
      }
    }
    if (fromClientCa) {
      // The headers are ignored here: only the request-header CA may assert another identity.
      if (!cn) return { ok: false, reason: 'client certificate has no common name' };
      return { ok: true, via: 'client-cert', user: { username: cn, groups: withAuthenticated(cn, id.organizations), extra: {} } };
    }
    return { ok: false, reason: 'client certificate is not signed by a trusted client CA' };
  }

  private header(req: IncomingMessage, names: readonly string[]): string | undefined {
    for (const n of names) {
      const v = req.headersDistinct[n.toLowerCase()]?.find((s) => s.trim() !== '');
      if (v) return v.trim();
    }
    return undefined;
  }

  private groups(req: IncomingMessage): string[] {
    const out: string[] = [];
    for (const n of this.c.requestheaderGroupHeaders) for (const v of req.headersDistinct[n.toLowerCase()] ?? []) if (v !== '') out.push(v);
    return out;
  }

  private extra(req: IncomingMessage): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    const prefixes = this.c.requestheaderExtraHeadersPrefix.map((p) => p.toLowerCase());
    for (const [name, values] of Object.entries(req.headersDistinct)) {
      const p = prefixes.find((x) => name.startsWith(x));
      if (!p || !values) continue;
      let key = name.slice(p.length);
      try {
        key = decodeURIComponent(key); // upstream percent-decodes extra keys
      } catch {
        continue;
      }
      if (key) (out[key] ??= []).push(...values);
    }
    return out;
  }
}
