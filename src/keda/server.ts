// The KEDA external scaler on the wire: grpc-js serving externalscaler.proto (loaded with @grpc/proto-loader) over the
// functions of src/keda/scaler.ts. Plaintext, TLS, or TLS with client certificates; the serving certificate is swapped
// for new connections when it rotates, like the HTTPS servers'.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { AdapterError } from '../adapter/errors.js';
import type { Logger } from '../observability/log.js';
import type { GovernorMetrics } from '../observability/metrics.js';
import { ExternalScaler, METRIC_SPEC, type ScaledObjectRef } from './scaler.js';

/** Next to this module in src/ and dist/ (the build copies it). */
export const PROTO_FILE = fileURLToPath(new URL('./externalscaler.proto', import.meta.url));

/** The ExternalScaler service as the proto defines it (field names as written there). */
export function externalScalerService(): grpc.ServiceDefinition {
  const def = protoLoader.loadSync(PROTO_FILE, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { externalscaler: { ExternalScaler: grpc.ServiceClientConstructor } };
  return pkg.externalscaler.ExternalScaler.service;
}

/** The methods served; the proto may not grow one this server does not answer (src/keda/server_test.ts). */
export const SERVED_METHODS = ['IsActive', 'StreamIsActive', 'GetMetricSpec', 'GetMetrics', 'StreamMetricSpec'] as const;

/** Request messages are a name, a namespace and a few metadata strings: anything larger is not KEDA. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Streams per connection (KEDA opens two per external-push trigger on one pooled connection). */
export const MAX_CONCURRENT_STREAMS = 1000;
/** Open streams in all (each holds a timer and re-reads once per interval): beyond, new ones get RESOURCE_EXHAUSTED. */
export const MAX_OPEN_STREAMS = 10_000;

export interface ScalerTls {
  readonly cert: string;
  readonly key: string;
  /** When set, clients must present a certificate signed by this bundle. */
  readonly clientCa?: string;
}

export interface KedaScalerServerOptions {
  readonly scaler: ExternalScaler;
  readonly log: Logger;
  readonly metrics?: GovernorMetrics;
  /** Absent: plaintext (KEDA's default for external scalers; keep the port to the KEDA namespace). */
  readonly tls?: ScalerTls;
  /** How often an open StreamIsActive re-reads when the policy's interval is unknown (tests shorten it). */
  readonly fallbackPollMs?: number;
  /** Default MAX_OPEN_STREAMS. */
  readonly maxOpenStreams?: number;
}

export interface RunningScalerServer {
  readonly port: number;
  listening(): boolean;
  setTls(m: { cert: string; key: string }): void;
  /** A rotated client CA bundle (only with TLS and a client CA at start). */
  setClientCa(pem: string): void;
  close(graceMs: number): Promise<void>;
}

/** The gRPC code of each adapter error's HTTP status (the same errors the external metrics API answers with). */
const GRPC_CODE_OF_HTTP: Readonly<Record<number, grpc.status>> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  403: grpc.status.PERMISSION_DENIED,
  404: grpc.status.NOT_FOUND,
  503: grpc.status.UNAVAILABLE,
};

function grpcCode(err: unknown): { code: grpc.status; details: string; internal: boolean } {
  if (err instanceof AdapterError) return { code: GRPC_CODE_OF_HTTP[err.code] ?? grpc.status.INTERNAL, details: err.message, internal: false };
  return { code: grpc.status.INTERNAL, details: 'internal error (details are in the server log)', internal: true };
}

/**
 * A value grpc-js watches: a listener gets the current value, then every later one. The first answer waits for the
 * next tick: grpc-js registers its watcher after the add call returns, so a synchronous answer would reach no one.
 */
class Watched<T> {
  private readonly listeners = new Set<(v: T) => void>();
  constructor(private value: T) {}
  set(v: T): void {
    this.value = v;
    for (const l of this.listeners) l(v);
  }
  add(l: (v: T) => void): void {
    this.listeners.add(l);
    const v = this.value;
    process.nextTick(() => l(v));
  }
  remove(l: (v: T) => void): void {
    this.listeners.delete(l);
  }
}

const identityOf = (m: { cert: string; key: string }): grpc.experimental.IdentityCertificateUpdate => ({ certificate: Buffer.from(m.cert), privateKey: Buffer.from(m.key) });

/** A CertificateProvider fed by setTls (grpc-js then serves the new certificate to new connections). */
class PushedCertificates implements grpc.experimental.CertificateProvider {
  private readonly identity: Watched<grpc.experimental.IdentityCertificateUpdate>;
  private readonly ca: Watched<grpc.experimental.CaCertificateUpdate | null>;

  constructor(tls: ScalerTls) {
    this.identity = new Watched(identityOf(tls));
    this.ca = new Watched<grpc.experimental.CaCertificateUpdate | null>(tls.clientCa ? { caCertificate: Buffer.from(tls.clientCa) } : null);
  }
  set(m: { cert: string; key: string }) {
    this.identity.set(identityOf(m));
  }
  setClientCa(pem: string) {
    this.ca.set({ caCertificate: Buffer.from(pem) });
  }
  addCaCertificateListener(l: grpc.experimental.CaCertificateUpdateListener) {
    this.ca.add(l);
  }
  removeCaCertificateListener(l: grpc.experimental.CaCertificateUpdateListener) {
    this.ca.remove(l);
  }
  addIdentityCertificateListener(l: grpc.experimental.IdentityCertificateUpdateListener) {
    this.identity.add(l);
  }
  removeIdentityCertificateListener(l: grpc.experimental.IdentityCertificateUpdateListener) {
    this.identity.remove(l);
  }
}

export async function startKedaScalerServer(o: KedaScalerServerOptions, port: number, host: string): Promise<RunningScalerServer> {
  const { scaler, log, metrics } = o;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
    'grpc.max_metadata_size': 16 * 1024,
    // Dead peers (a KEDA pod killed without FIN) must not hold streams forever.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
  });
  const count = (method: string, code: grpc.status) => metrics?.kedaScalerRequests.inc({ method, code: grpc.status[code] ?? String(code) });
  // One line per distinct failure per method, not per call: KEDA polls every few seconds.
  const lastFailure = new Map<string, string>();
  const fail = (method: string, err: unknown, ref: ScaledObjectRef | undefined) => {
    const g = grpcCode(err);
    count(method, g.code);
    const key = `${method}|${ref?.namespace}/${ref?.name}`;
    const text = g.internal ? (err as Error)?.message : g.details;
    if (lastFailure.get(key) !== text) {
      lastFailure.set(key, text ?? '');
      if (lastFailure.size > 10_000) lastFailure.clear();
      const fields = { method, scaledObject: ref ? `${ref.namespace}/${ref.name}` : undefined, code: grpc.status[g.code] };
      if (g.internal) log.error({ ...fields, err: (err as Error)?.stack ?? String(err) }, 'KEDA scaler call failed');
      else log.warn({ ...fields, err: g.details }, 'KEDA scaler call refused');
    }
    return { code: g.code, details: g.details };
  };
  const ok = (method: string, ref: ScaledObjectRef) => {
    count(method, grpc.status.OK);
    lastFailure.delete(`${method}|${ref.namespace}/${ref.name}`);
  };

  const unary =
    <Req, Res>(method: string, refOf: (r: Req) => ScaledObjectRef | undefined, run: (r: Req) => Promise<Res> | Res) =>
    (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => {
      const ref = refOf(call.request);
      Promise.resolve()
        .then(() => run(call.request))
        .then(
          (res) => {
            if (ref) ok(method, ref);
            cb(null, res);
          },
          (err) => cb(fail(method, err, ref)),
        );
    };

  const closing = new Set<() => void>();
  const maxOpenStreams = o.maxOpenStreams ?? MAX_OPEN_STREAMS;
  /** A server stream held open until the client cancels or the server closes; `loop` runs until then. */
  const stream = <Res>(method: string, loop: (call: grpc.ServerWritableStream<ScaledObjectRef, Res>, stopped: () => boolean, sleep: (ms: number) => Promise<void>) => Promise<void>) => {
    return (call: grpc.ServerWritableStream<ScaledObjectRef, Res>) => {
      if (closing.size >= maxOpenStreams) {
        count(method, grpc.status.RESOURCE_EXHAUSTED);
        call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `this server holds ${maxOpenStreams} open streams already; retry later or on another replica` });
        return;
      }
      let done = false;
      let wake: (() => void) | undefined;
      const stop = () => {
        done = true;
        wake?.();
      };
      closing.add(stop);
      call.on('cancelled', stop);
      call.on('close', stop);
      metrics?.kedaScalerStreams.inc({ method });
      const sleep = (ms: number) =>
        new Promise<void>((r) => {
          const t = setTimeout(r, ms);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
      loop(call, () => done, sleep)
        .then(
          () => {
            count(method, grpc.status.OK);
            if (!call.cancelled) call.end();
          },
          (err) => {
            if (!call.cancelled) call.emit('error', fail(method, err, call.request));
          },
        )
        .finally(() => {
          closing.delete(stop);
          metrics?.kedaScalerStreams.dec({ method });
        });
    };
  };

  const fallbackPollMs = o.fallbackPollMs ?? 5_000;
  const impl: grpc.UntypedServiceImplementation = {
    IsActive: unary('IsActive', (r: ScaledObjectRef) => r, async (r: ScaledObjectRef) => ({ result: await scaler.isActive(r) })),
    GetMetricSpec: unary('GetMetricSpec', (r: ScaledObjectRef) => r, (r: ScaledObjectRef) => ({ metricSpecs: [scaler.metricSpec(r)] })),
    GetMetrics: unary(
      'GetMetrics',
      (r: { scaledObjectRef?: ScaledObjectRef }) => r.scaledObjectRef,
      async (r: { scaledObjectRef?: ScaledObjectRef; metricName: string }) => ({
        metricValues: [await scaler.metrics(r.scaledObjectRef ?? { name: '', namespace: '', scalerMetadata: {} }, r.metricName)],
      }),
    ),
    // Pushes activity when it changes, checked just after each interval boundary of the policy (a decision changes only
    // then, or when the policy is reloaded). A source outage keeps the stream open and says nothing: KEDA keeps the
    // last activity, as the HPA keeps the last value. Bad metadata ends the stream with its error.
    StreamIsActive: stream<{ result: boolean }>('StreamIsActive', async (call, stopped, sleep) => {
      const ref = call.request;
      let last: boolean | undefined;
      while (!stopped()) {
        let wait = fallbackPollMs;
        try {
          const r = await scaler.read(ref);
          if (r.active !== last && !stopped()) {
            call.write({ result: r.active });
            last = r.active;
          }
          if (r.intervalMs) wait = r.intervalMs - (Date.now() % r.intervalMs) + 50;
        } catch (err) {
          if (err instanceof AdapterError && err.code === 400) throw err;
          fail('StreamIsActive', err, ref);
        }
        await sleep(Math.max(100, wait));
      }
    }),
    // The spec never changes (target 1), so it is sent once and the stream stays open, as the contract asks.
    StreamMetricSpec: stream<{ metricSpecs: (typeof METRIC_SPEC)[] }>('StreamMetricSpec', async (call, stopped, sleep) => {
      call.write({ metricSpecs: [scaler.metricSpec(call.request)] });
      while (!stopped()) await sleep(3_600_000);
    }),
  };
  server.addService(externalScalerService(), impl);

  let certificates: PushedCertificates | undefined;
  let credentials: grpc.ServerCredentials;
  if (o.tls) {
    certificates = new PushedCertificates(o.tls);
    // grpc-js 1.14 hands its first argument to the identity side and its second, nullable one to the CA side (its type
    // names are the other way round): one provider serves both, and no CA side means no client certificates asked for.
    credentials = grpc.experimental.createCertificateProviderServerCredentials(certificates, o.tls.clientCa ? certificates : null, Boolean(o.tls.clientCa));
  } else {
    credentials = grpc.ServerCredentials.createInsecure();
  }
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(target, credentials, (err, p) => (err ? reject(err) : resolve(p))));
  let listening = true;
  return {
    port: bound,
    listening: () => listening,
    setTls(m) {
      certificates?.set(m);
    },
    setClientCa(pem) {
      if (o.tls?.clientCa) certificates?.setClientCa(pem);
    },
    async close(graceMs: number) {
      listening = false;
      // Open streams end at once (KEDA reconnects to another replica); unary calls get the grace.
      for (const stop of closing) stop();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
