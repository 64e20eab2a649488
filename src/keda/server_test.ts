// The external scaler over real gRPC (grpc-js client generated from the same proto): every method of the contract,
// error codes, streams, limits, plaintext, TLS, client certificates and certificate rotation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { FakeMetricsProvider } from '../adapter/fake-provider.js';
import { NoMatchingPolicyError, ValueUnavailableError } from '../adapter/errors.js';
import type { ExternalMetricValue } from '../adapter/provider.js';
import { createMetrics } from '../observability/metrics.js';
import { silentLogger } from '../observability/log.js';
import { generateCA, generateClientCert, generateServingCert, type KeyPairPem } from '../tls/certs.js';
import { ExternalScaler } from './scaler.js';
import { externalScalerService, MAX_MESSAGE_BYTES, PROTO_FILE, SERVED_METHODS, startKedaScalerServer, type RunningScalerServer } from './server.js';

const Client = grpc.makeGenericClientConstructor(externalScalerService(), 'ExternalScaler');
type Any = any;

const value = (v: string): ExternalMetricValue => ({ metricName: 'desired-replicas', metricLabels: {}, timestamp: '2026-12-04T00:00:00Z', window: 1, value: v });
const ref = (policy: string, namespace = 'shop') => ({ name: 'checkout', namespace, scalerMetadata: { policy, scalerAddress: 'governor:9090' } });

/** A provider whose answer per policy name the test sets (value or error). */
class SettableProvider extends FakeMetricsProvider {
  readonly byPolicy = new Map<string, string | Error>();
  constructor() {
    super(['desired-replicas']);
  }
  override async getValues(namespace: string, metric: string, selector: Any): Promise<ExternalMetricValue[]> {
    await super.getValues(namespace, metric, selector);
    const name = selector[0].values[0] as string;
    const a = this.byPolicy.get(name);
    if (a === undefined) throw new NoMatchingPolicyError(namespace, name, []);
    if (a instanceof Error) throw a;
    return [value(a)];
  }
}

function call<T>(client: Any, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) => client[method](req, { deadline: Date.now() + 5000 }, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));
}

/** Reads messages of a server stream until `n` arrived or the timeout, then cancels it. */
function readStream<T>(stream: grpc.ClientReadableStream<T>, n: number, timeoutMs: number): Promise<{ items: T[]; atMs: number[]; error?: grpc.ServiceError }> {
  const items: T[] = [];
  const atMs: number[] = [];
  const t0 = Date.now();
  return new Promise((resolve) => {
    const done = (error?: grpc.ServiceError) => {
      clearTimeout(timer);
      stream.removeAllListeners('data');
      stream.on('error', () => {});
      stream.cancel();
      resolve({ items, atMs, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => done(), timeoutMs);
    stream.on('data', (d: T) => {
      items.push(d);
      atMs.push(Date.now() - t0);
      if (items.length >= n) done();
    });
    stream.on('error', (e: grpc.ServiceError) => done(e));
  });
}

describe('the contract is the proto', () => {
  test('every method the proto declares is served, and nothing else', () => {
    const declared = Object.values(externalScalerService()).map((m) => m.originalName ?? m.path.split('/').pop());
    assert.deepEqual([...declared].sort(), [...SERVED_METHODS].map((m) => m[0]!.toLowerCase() + m.slice(1)).sort());
    assert.match(readFileSync(PROTO_FILE, 'utf8'), /service ExternalScaler \{/);
  });

  test('streams are server streams, the rest unary', () => {
    const svc = externalScalerService() as Any;
    for (const [name, m] of Object.entries(svc) as [string, Any][]) {
      assert.equal(m.requestStream, false, name);
      assert.equal(m.responseStream, name.startsWith('Stream'), name);
    }
  });
});

describe('plaintext server', () => {
  let provider: SettableProvider;
  let server: RunningScalerServer;
  let client: Any;
  const metrics = createMetrics({ defaultMetrics: false });

  before(async () => {
    provider = new SettableProvider();
    server = await startKedaScalerServer({ scaler: new ExternalScaler(provider), log: silentLogger, metrics, fallbackPollMs: 200 }, 0, '127.0.0.1');
    client = new Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client?.close();
    await server?.close(500);
  });

  test('IsActive, GetMetricSpec and GetMetrics give R with target 1', async () => {
    provider.byPolicy.set('checkout', '6');
    assert.deepEqual(await call(client, 'IsActive', ref('checkout')), { result: true });
    const spec: Any = await call(client, 'GetMetricSpec', ref('checkout'));
    assert.deepEqual(spec.metricSpecs, [{ metricName: 'desired-replicas', targetSize: 1, targetSizeFloat: 1 }]);
    const m: Any = await call(client, 'GetMetrics', { scaledObjectRef: ref('checkout'), metricName: 'desired-replicas' });
    assert.deepEqual(m.metricValues, [{ metricName: 'desired-replicas', metricValue: 6, metricValueFloat: 6 }]);
    provider.byPolicy.set('checkout', '0');
    assert.deepEqual(await call(client, 'IsActive', ref('checkout')), { result: false });
  });

  test('errors map to gRPC codes; internal details stay in the log', async () => {
    const code = async (method: string, req: unknown) => {
      try {
        await call(client, method, req);
        return { code: grpc.status.OK, details: '' };
      } catch (e) {
        return e as grpc.ServiceError;
      }
    };
    let e = await code('IsActive', { name: 'x', namespace: 'shop', scalerMetadata: {} });
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    assert.match(e.details, /"policy" is required/);
    e = await code('IsActive', ref('unknown'));
    assert.equal(e.code, grpc.status.NOT_FOUND);
    provider.byPolicy.set('down', new ValueUnavailableError('no desired-replicas value: source failing'));
    e = await code('GetMetrics', { scaledObjectRef: ref('down'), metricName: 'desired-replicas' });
    assert.equal(e.code, grpc.status.UNAVAILABLE);
    provider.byPolicy.set('bug', new TypeError('secret internals at /app/dist/x.js'));
    e = await code('IsActive', ref('bug'));
    assert.equal(e.code, grpc.status.INTERNAL);
    assert.doesNotMatch(e.details, /secret|\/app/);
    e = await code('GetMetrics', { scaledObjectRef: ref('checkout'), metricName: 'cpu' });
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    e = await code('IsActive', ref('checkout', 'other').scalerMetadata && { ...ref('shop/checkout'), namespace: 'other' });
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    const text = await metrics.registry.getSingleMetricAsString('governor_keda_scaler_requests_total');
    assert.match(text, /method="IsActive",code="INVALID_ARGUMENT"\} [1-9]/);
    assert.match(text, /method="IsActive",code="INTERNAL"\} 1/);
    assert.match(text, /method="GetMetrics",code="UNAVAILABLE"\} 1/);
  });

  test('a request over the message limit is refused before it is parsed', async () => {
    const big = { name: 'x', namespace: 'shop', scalerMetadata: { policy: 'checkout', pad: 'p'.repeat(MAX_MESSAGE_BYTES + 10) } };
    await assert.rejects(call(client, 'IsActive', big), (e: grpc.ServiceError) => e.code === grpc.status.RESOURCE_EXHAUSTED);
    assert.deepEqual(await call(client, 'IsActive', ref('checkout')), { result: false }); // still serving
  });

  test('StreamIsActive sends the activity at once and each change, nothing in between', async () => {
    provider.byPolicy.set('checkout', '0');
    const stream = client.StreamIsActive(ref('checkout'));
    setTimeout(() => provider.byPolicy.set('checkout', '3'), 1_500);
    setTimeout(() => provider.byPolicy.set('checkout', '4'), 2_600); // still active: no message
    setTimeout(() => provider.byPolicy.set('checkout', '0'), 3_700);
    const r = await readStream<{ result: boolean }>(stream, 4, 6_000);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.items.map((i) => i.result), [false, true, false]);
    // The policy's interval is 1 s (window): each change reaches the stream within it.
    assert.ok(r.atMs[0]! < 500, `first message after ${r.atMs[0]} ms`);
    assert.ok(r.atMs[1]! - 1_500 < 1_200, `true after ${r.atMs[1]! - 1_500} ms`);
    assert.ok(r.atMs[2]! - 3_700 < 1_200, `false after ${r.atMs[2]! - 3_700} ms`);
  });

  test('StreamIsActive keeps going through a source outage and ends on bad metadata', async () => {
    provider.byPolicy.set('flaky', '2');
    const stream = client.StreamIsActive(ref('flaky'));
    setTimeout(() => provider.byPolicy.set('flaky', new ValueUnavailableError('down')), 300);
    setTimeout(() => provider.byPolicy.set('flaky', '0'), 2_300);
    const r = await readStream<{ result: boolean }>(stream, 2, 5_000);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.items.map((i) => i.result), [true, false]);
    const bad = await readStream(client.StreamIsActive({ name: 'x', namespace: 'shop', scalerMetadata: { policy: 'a/b/c' } }), 1, 3_000);
    assert.equal(bad.error?.code, grpc.status.INVALID_ARGUMENT);
  });

  test('StreamMetricSpec sends the spec once and stays open; the stream gauge counts open streams', async () => {
    const stream = client.StreamMetricSpec(ref('checkout'));
    const r = await readStream<Any>(stream, 2, 1_500);
    assert.equal(r.error, undefined);
    assert.equal(r.items.length, 1);
    assert.deepEqual(r.items[0].metricSpecs, [{ metricName: 'desired-replicas', targetSize: 1, targetSizeFloat: 1 }]);
    // cancelled by readStream: the gauge goes back to zero
    await new Promise((res) => setTimeout(res, 200));
    const g = await metrics.registry.getSingleMetricAsString('governor_keda_scaler_streams');
    assert.match(g, /method="StreamMetricSpec"\} 0/);
  });

  test('open streams are bounded in all: one over the limit is refused, the others keep going', async () => {
    const p3 = new SettableProvider();
    p3.byPolicy.set('checkout', '1');
    const s3 = await startKedaScalerServer({ scaler: new ExternalScaler(p3), log: silentLogger, maxOpenStreams: 3 }, 0, '127.0.0.1');
    const c3: Any = new Client(`127.0.0.1:${s3.port}`, grpc.credentials.createInsecure());
    try {
      const open = [0, 1, 2].map(() => c3.StreamIsActive(ref('checkout')));
      const firsts = await Promise.all(open.map((st: Any) => new Promise((res) => st.once('data', res))));
      assert.equal(firsts.length, 3);
      const over = await readStream(c3.StreamIsActive(ref('checkout')), 1, 3_000);
      assert.equal(over.error?.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.deepEqual(await call(c3, 'IsActive', ref('checkout')), { result: true }); // unary calls still served
      for (const st of open) {
        st.on('error', () => {});
        st.cancel();
      }
      await new Promise((res) => setTimeout(res, 300));
      const again = await readStream(c3.StreamIsActive(ref('checkout')), 1, 3_000);
      assert.equal(again.error, undefined);
      assert.equal(again.items.length, 1);
    } finally {
      c3.close();
      await s3.close(500);
    }
  });

  test('close ends open streams at once', async () => {
    const p2 = new SettableProvider();
    p2.byPolicy.set('checkout', '1');
    const s2 = await startKedaScalerServer({ scaler: new ExternalScaler(p2), log: silentLogger }, 0, '127.0.0.1');
    const c2: Any = new Client(`127.0.0.1:${s2.port}`, grpc.credentials.createInsecure());
    const stream = c2.StreamMetricSpec(ref('checkout'));
    const ended = new Promise<number>((resolve) => {
      stream.on('data', () => {});
      stream.on('error', () => resolve(Date.now()));
      stream.on('end', () => resolve(Date.now()));
    });
    await new Promise((res) => setTimeout(res, 300));
    const t0 = Date.now();
    await s2.close(5_000);
    assert.ok((await ended) - t0 < 2_000);
    assert.equal(s2.listening(), false);
    c2.close();
  });
});

describe('TLS', () => {
  let ca: KeyPairPem;
  let clientCa: KeyPairPem;
  const serving = (c: KeyPairPem, cn: string) => generateServingCert(c, { commonName: cn, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });

  before(() => {
    ca = generateCA({ commonName: 'governor-ca' });
    clientCa = generateCA({ commonName: 'keda-client-ca' });
  });

  test('with the serving certificate: KEDA with caCert connects, a plaintext client does not; rotation reaches new connections', async () => {
    const provider = new SettableProvider();
    provider.byPolicy.set('checkout', '2');
    const first = serving(ca, 'first');
    const s = await startKedaScalerServer({ scaler: new ExternalScaler(provider), log: silentLogger, tls: { cert: first.certPem, key: first.keyPem } }, 0, '127.0.0.1');
    try {
      const secure: Any = new Client(`127.0.0.1:${s.port}`, grpc.credentials.createSsl(Buffer.from(ca.certPem)));
      assert.deepEqual(await call(secure, 'IsActive', ref('checkout')), { result: true });
      secure.close();
      const plain: Any = new Client(`127.0.0.1:${s.port}`, grpc.credentials.createInsecure());
      await assert.rejects(call(plain, 'IsActive', ref('checkout')), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
      plain.close();

      const peer = () =>
        new Promise<{ cn: string; protocol: string | null }>((resolve, reject) => {
          const sock = connect({ host: '127.0.0.1', port: s.port, ca: ca.certPem, servername: 'localhost', ALPNProtocols: ['h2'] }, () => {
            resolve({ cn: String(sock.getPeerCertificate().subject.CN), protocol: sock.getProtocol() });
            sock.destroy();
          });
          sock.on('error', reject);
        });
      const before = await peer();
      assert.equal(before.cn, 'first');
      assert.ok(before.protocol === 'TLSv1.3' || before.protocol === 'TLSv1.2');
      const second = serving(ca, 'second');
      s.setTls({ cert: second.certPem, key: second.keyPem });
      assert.equal((await peer()).cn, 'second');
      const again: Any = new Client(`127.0.0.1:${s.port}`, grpc.credentials.createSsl(Buffer.from(ca.certPem)));
      assert.deepEqual(await call(again, 'IsActive', ref('checkout')), { result: true });
      again.close();
    } finally {
      await s.close(500);
    }
  });

  test('TLS 1.1 is refused', async () => {
    const first = serving(ca, 'first');
    const s = await startKedaScalerServer({ scaler: new ExternalScaler(new SettableProvider()), log: silentLogger, tls: { cert: first.certPem, key: first.keyPem } }, 0, '127.0.0.1');
    try {
      await assert.rejects(
        new Promise<void>((resolve, reject) => {
          const sock = connect({ host: '127.0.0.1', port: s.port, ca: ca.certPem, servername: 'localhost', maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ALPNProtocols: ['h2'] }, () => {
            sock.destroy();
            resolve();
          });
          sock.on('error', reject);
        }),
      );
    } finally {
      await s.close(500);
    }
  });

  test('with a client CA: no certificate or a foreign one is refused, KEDA\'s is served', async () => {
    const provider = new SettableProvider();
    provider.byPolicy.set('checkout', '5');
    const cert = serving(ca, 'governor');
    const s = await startKedaScalerServer({ scaler: new ExternalScaler(provider), log: silentLogger, tls: { cert: cert.certPem, key: cert.keyPem, clientCa: clientCa.certPem } }, 0, '127.0.0.1');
    try {
      const keda = generateClientCert(clientCa, { commonName: 'keda-operator' });
      const ok: Any = new Client(`127.0.0.1:${s.port}`, grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(keda.keyPem), Buffer.from(keda.certPem)));
      const m: Any = await call(ok, 'GetMetrics', { scaledObjectRef: ref('checkout'), metricName: 'desired-replicas' });
      assert.equal(m.metricValues[0].metricValue, 5);
      ok.close();
      const none: Any = new Client(`127.0.0.1:${s.port}`, grpc.credentials.createSsl(Buffer.from(ca.certPem)));
      await assert.rejects(call(none, 'IsActive', ref('checkout')), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
      none.close();
      const foreign = generateClientCert(generateCA({ commonName: 'keda-client-ca' }), { commonName: 'keda-operator' });
      const bad: Any = new Client(`127.0.0.1:${s.port}`, grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(foreign.keyPem), Buffer.from(foreign.certPem)));
      await assert.rejects(call(bad, 'IsActive', ref('checkout')), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
      bad.close();
      // A rotated client CA: the new one is trusted on new connections, the old one no longer.
      const nextCa = generateCA({ commonName: 'keda-client-ca-2' });
      s.setClientCa(nextCa.certPem);
      const kedaNext = generateClientCert(nextCa, { commonName: 'keda-operator' });
      const rotated: Any = new Client(`127.0.0.1:${s.port}`, grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(kedaNext.keyPem), Buffer.from(kedaNext.certPem)));
      assert.deepEqual(await call(rotated, 'IsActive', ref('checkout')), { result: true });
      rotated.close();
      const old: Any = new Client(`127.0.0.1:${s.port}`, grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(keda.keyPem), Buffer.from(keda.certPem)));
      await assert.rejects(call(old, 'IsActive', ref('checkout')));
      old.close();
    } finally {
      await s.close(500);
    }
  });
});
