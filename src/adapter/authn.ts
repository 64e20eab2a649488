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

  private readonly headerNames: RequestHeaderNames;

  constructor(private readonly c: AuthnConfig) {
    this.headerNames = requestHeaderNames(c);
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
      if (allowed.length > 0 && !allowed.includes(cn)) {
        if (!fromClientCa) return { ok: false, reason: `front-proxy certificate CN "${cn}" is not an allowed request-header name` };
      } else {
        const asserted = requestHeaderIdentity(req.rawHeaders, this.headerNames);
        if (asserted.username) return { ok: true, via: 'requestheader', user: { username: asserted.username, groups: withAuthenticated(asserted.username, asserted.groups), extra: asserted.extra } };
        if (!fromClientCa) return { ok: false, reason: `front-proxy certificate "${cn}" sent no ${this.c.requestheaderUsernameHeaders.join('/')} header` };
      }
    }
    if (fromClientCa) {
      // The headers are ignored here: only the request-header CA may assert another identity.
      if (!cn) return { ok: false, reason: 'client certificate has no common name' };
      return { ok: true, via: 'client-cert', user: { username: cn, groups: withAuthenticated(cn, id.organizations), extra: {} } };
    }
    return { ok: false, reason: 'client certificate is not signed by a trusted client CA' };
  }
}

/** The request-header names of an AuthnConfig, lowercased once (header names are case-insensitive). */
export interface RequestHeaderNames {
  readonly username: readonly string[];
  readonly group: readonly string[];
  readonly extraPrefix: readonly string[];
}

export function requestHeaderNames(c: Pick<AuthnConfig, 'requestheaderUsernameHeaders' | 'requestheaderGroupHeaders' | 'requestheaderExtraHeadersPrefix'>): RequestHeaderNames {
  const lower = (xs: readonly string[]) => xs.map((x) => x.toLowerCase());
  return { username: lower(c.requestheaderUsernameHeaders), group: lower(c.requestheaderGroupHeaders), extraPrefix: lower(c.requestheaderExtraHeadersPrefix) };
}

/** What a front proxy asserts in its headers: user name, groups and extra. */
export interface AssertedIdentity {
  /** The first non-blank value of the first username header that has one, trimmed. */
  readonly username: string | undefined;
  /** Every non-empty value of the group headers, the headers in configured order, values in request order. */
  readonly groups: string[];
  /** Per extra key (the header name after its prefix, lowercased and percent-decoded): the values in request order. */
  readonly extra: Record<string, string[]>;
}

/**
 * The asserted identity from `rawHeaders` ([name, value, name, value, ...], names as sent), in one pass. Node builds
 * req.headersDistinct, an object of every header, only when it is read: this runs on every request the HPA makes.
 * A header whose extra key is not valid percent-encoding is ignored.
 */
export function requestHeaderIdentity(raw: readonly string[], names: RequestHeaderNames): AssertedIdentity {
  const users: (string | undefined)[] = [];
  let groups: string[][] | undefined;
  // No prototype: a key such as __proto__ or constructor is a key like any other.
  const extra: Record<string, string[]> = Object.create(null);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const u = names.username.indexOf(name);
    if (u >= 0 && users[u] === undefined && value.trim() !== '') users[u] = value.trim();
    const g = names.group.indexOf(name);
    if (g >= 0 && value !== '') ((groups ??= [])[g] ??= []).push(value);
    for (const prefix of names.extraPrefix) {
      if (!name.startsWith(prefix)) continue;
      let key = name.slice(prefix.length);
      try {
        key = decodeURIComponent(key); // upstream percent-decodes extra keys
      } catch {
        break;
      }
      if (key) (extra[key] ??= []).push(value);
      break;
    }
  }
  return { username: users.find((u) => u !== undefined), groups: groups ? groups.flatMap((g) => g ?? []) : [], extra };
}
