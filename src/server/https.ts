// HTTPS server construction shared by the adapter and the webhook: TLS 1.2+, optional client certificates, graceful close.
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { RequestListener, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { statusResponse } from '../wire/status.js';
import type { TlsMaterial } from '../tls/serving.js';
import type { ServerComponent } from './component.js';

export interface SecureServerOptions {
  readonly tls: TlsMaterial;
  /** CA bundle for client certificates (front-proxy / client CA). When set, clients are asked for a certificate. */
  readonly clientCA?: string;
  /** Ask clients for a certificate even without a CA yet (one may come later through setClientCA). */
  readonly requestCert?: boolean;
  /**
   * Refuse the TLS handshake unless the client presents a certificate that chains to clientCA (the webhook with
   * --webhook-client-ca-file). Without it, a certificate is asked for but the decision is left to the handler.
   */
  readonly requireClientCert?: boolean;
  /** Header and body limits: slow or endless requests are cut off (defaults: REQUEST_TIMEOUT_MS, HEADERS_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number;
  readonly headersTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  /** Open connections at most; more are closed at accept (default MAX_CONNECTIONS). */
  readonly maxConnections?: number;
}

/**
 * A whole request (headers and body) must arrive within this: the API server gives up on a webhook after its
 * timeoutSeconds (5 s in our manifests, 30 at most) and sends a body of at most 3 MiB on a local network.
 */
export const REQUEST_TIMEOUT_MS = 10_000;
export const HEADERS_TIMEOUT_MS = 5_000;
/** How often Node checks the two timeouts above (its default, 30 s, let a stalled upload live 30 s past its timeout). */
const TIMEOUT_CHECK_MS = 1_000;
/** Request line and headers at most (Node's maxHeaderSize); longer ones get 431 below. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Far above what the API servers open to one webhook pod; each connection costs memory even when idle. */
export const MAX_CONNECTIONS = 500;

export function tlsServerOptions(o: SecureServerOptions): ServerOptions {
  return {
    cert: o.tls.cert,
    key: o.tls.key,
    minVersion: 'TLSv1.2',
    // Ask for a client cert but let the request through: the adapter answers probes without one and decides per request.
    ...(o.clientCA ? { ca: o.clientCA } : {}),
    ...(o.requireClientCert
      ? { requestCert: true, rejectUnauthorized: true }
      : o.clientCA || o.requestCert
        ? { requestCert: true, rejectUnauthorized: false }
        : {}),
    ...timeoutOptions(o),
    handshakeTimeout: 5_000,
    maxHeaderSize: MAX_HEADER_BYTES,
  };
}

/** Node's timeout options for a server (plain or TLS) from ours. */
export function timeoutOptions(o: Pick<SecureServerOptions, 'requestTimeoutMs' | 'headersTimeoutMs' | 'keepAliveTimeoutMs'>) {
  return {
    requestTimeout: o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    headersTimeout: Math.min(o.headersTimeoutMs ?? HEADERS_TIMEOUT_MS, o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS),
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
    keepAliveTimeout: o.keepAliveTimeoutMs ?? 65_000,
  };
}

/** How long idle keep-alive connections may still deliver a request after close() (answered with Connection: close). */
export const IDLE_DRAIN_MS = 500;

export interface ClosableServer {
  readonly server: Server;
  /** Stops accepting, lets in-flight requests finish (up to graceMs), then closes idle and remaining connections. */
  close(graceMs?: number): Promise<void>;
  /** Replaces the serving certificate for new connections. */
  setTls(m: TlsMaterial): void;
  /** Replaces the client-certificate CA bundle for new connections. */
  setClientCA(bundle: string | undefined): void;
}

export function createSecureServer(handler: RequestListener, o: SecureServerOptions): ClosableServer {
  if (o.requireClientCert && !o.clientCA) throw new Error('requiring client certificates needs a client CA');
  // Connections that have sent at least one request are marked (see clientError below) by the listener itself: a second
  // 'request' listener makes every emit copy the listener array.
  const server = createServer(tlsServerOptions(o), (req, res) => {
    const s = req.socket as Socket & { kgRequested?: boolean };
    if (s.kgRequested !== true) s.kgRequested = true;
    handler(req, res);
  });
  server.maxConnections = o.maxConnections ?? MAX_CONNECTIONS;
  // Raw TCP sockets, tracked from connect on: a client that connects but never finishes its handshake must not
  // hold shutdown open until the grace period ends.
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // What a client certificate proves is cached per connection (src/adapter/authn.ts): a TLS 1.2 client must not
  // renegotiate another certificate into an established connection (TLS 1.3 cannot renegotiate at all).
  server.on('secureConnection', (s: TLSSocket) => s.disableRenegotiation());
  // Requests Node rejects before any handler sees them get a metav1.Status and a lingering close, so the answer is not
  // lost to a reset. One exception: a connection that never sent a request and reached headersTimeout is closed
  // quietly. Node would write an unsolicited 408 on it, which a Go client (the API server, the aggregator) that
  // dialled it for its idle pool logs as "Unsolicited response received on idle HTTP channel"; a request sent on it
  // at that moment fails (seen once in the soak, bench/soak.ts).
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex & { kgAnswered?: boolean }) => {
    if (socket.kgAnswered) return; // the parser reports every further chunk too
    socket.kgAnswered = true;
    if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timedOut && (socket as { kgRequested?: boolean }).kgRequested !== true) return void socket.destroy();
    const [code, reason, text, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'RequestHeaderFieldsTooLarge', 'Request Header Fields Too Large', `request line and headers exceed the ${MAX_HEADER_BYTES / 1024} KiB limit`]
        : timedOut
          ? [408, 'Timeout', 'Request Timeout', 'the request did not arrive in time']
          : [400, 'BadRequest', 'Bad Request', 'malformed HTTP request'];
    const body = statusResponse(code, reason, message);
    socket.write(`HTTP/1.1 ${code} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${body.bytes}\r\nconnection: close\r\n\r\n${body.text}`);
    setTimeout(() => socket.end(), 200).unref();
    setTimeout(() => socket.destroy(), 2000).unref();
  });
  // Responses in flight, counted rather than kept in a Set: a Set would give each response object an identity hash,
  // which puts every request in Node's HTTP code on a slower path.
  let inFlight = 0;
  let closing = false;
  let drained = false;
  const destroyAll = () => {
    for (const s of sockets) s.destroy();
  };
  server.prependListener('request', (_req, res: ServerResponse) => {
    inFlight++;
    if (closing) res.shouldKeepAlive = false; // "Connection: close": the client's next request opens a new connection, which is refused
    res.on('close', () => {
      inFlight--;
      // Past the idle drain, the last response out means nothing is left worth waiting for.
      if (drained && inFlight === 0) destroyAll();
    });
  });
  // What the secure context is made of, so a new certificate keeps the client CA and a new client CA keeps the certificate.
  let tls = o.tls;
  let clientCA = o.clientCA;
  const apply = () => server.setSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ...(clientCA ? { ca: clientCA } : {}) } as any);
  return {
    server,
    setTls(m) {
      tls = m;
      apply();
    },
    setClientCA(bundle) {
      // Without a CA of its own, TLS would check client certificates against the public roots: never when required.
      if (o.requireClientCert && !bundle) throw new Error('requiring client certificates needs a client CA');
      clientCA = bundle;
      apply();
    },
    close(graceMs = 10_000) {
      return new Promise<void>((resolve) => {
        // Responses already in flight keep their connection; a request arriving on it later is answered with
        // Connection: close like any other from now on.
        closing = true;
        const hard = setTimeout(destroyAll, graceMs);
        hard.unref();
        // Stop accepting, but leave open connections alone for a moment: http.Server#close would also close idle
        // keep-alive connections at once, and a request a client has already sent on one would be lost unanswered
        // (measured: one per connection under load, test/hardening/sigterm_test.ts).
        NetServer.prototype.close.call(server, () => {
          clearTimeout(hard);
          clearTimeout(drain);
          resolve();
        });
        // Then idle connections (and unfinished handshakes) go; busy ones finish their response first, up to graceMs.
        const drain = setTimeout(() => {
          drained = true;
          server.close(); // not listening any more: this only closes idle connections and stops Node's timeout checks
          if (inFlight === 0) destroyAll();
        }, Math.min(IDLE_DRAIN_MS, graceMs));
        drain.unref();
      });
    },
  };
}

/** The limits every server of `governor serve` takes from its options (flags of the same names). */
export interface ServerLimitOptions {
  readonly requestTimeoutMs?: number;
  readonly requestHeadersTimeoutMs?: number;
  readonly maxConnections?: number;
}

export function serverLimits(o: ServerLimitOptions): Pick<SecureServerOptions, 'requestTimeoutMs' | 'headersTimeoutMs' | 'maxConnections'> {
  return {
    ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    ...(o.requestHeadersTimeoutMs !== undefined ? { headersTimeoutMs: o.requestHeadersTimeoutMs } : {}),
    ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
  };
}

export function listen(server: NetServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** The ServerComponent of an HTTPS server. */
export function httpsComponent(name: string, server: ClosableServer, port: number, stop?: () => Promise<void>): ServerComponent {
  return {
    name,
    port,
    listening: () => server.server.listening,
    setTls: (m) => server.setTls(m),
    close: (graceMs) => server.close(graceMs),
    ...(stop ? { stop } : {}),
  };
}
