// Shared pieces of the hardening tests: the production listeners on a loopback server, a keep-alive client, and the
// check that an error answer is a clean Status (no stack trace, bounded size).
import assert from 'node:assert/strict';
import { Agent, createServer, request, type IncomingMessage, type RequestListener } from 'node:http';
import { Writable } from 'node:stream';
import { createAdapterListener } from '../../src/adapter/app.js';
import type { AuthnResult } from '../../src/adapter/authn.js';
import { NoMatchingPolicyError, ValueUnavailableError } from '../../src/adapter/errors.js';
import { FakeMetricsProvider } from '../../src/adapter/fake-provider.js';
import { mutateHandler, reviewFunction, validateHandler, type AdmissionEnvironment } from '../../src/admission/handlers.js';
import { createWebhookListener } from '../../src/admission/http.js';
import { FakeEventRecorder } from '../../src/kube/events.js';
import { createLogger, silentLogger, type Logger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { sampleEngine, sampleNamespaces } from '../integration/webhook_fixtures.js';

export const VALUES = '/apis/external.metrics.k8s.io/v1beta1/namespaces';

export function webhookListener(o: { fastPath?: boolean; log?: Logger } = {}): RequestListener {
  const engine = sampleEngine();
  const log = o.log ?? silentLogger;
  const env: AdmissionEnvironment = { engine: () => engine, namespaces: sampleNamespaces(), events: new FakeEventRecorder(), log, metrics: createMetrics({ defaultMetrics: false }) };
  return createWebhookListener({ mutate: reviewFunction('mutate', mutateHandler(env), env), validate: reviewFunction('validate', validateHandler(env), env), log, ...(o.fastPath === false ? { fastPath: false } : {}) });
}

/** The adapter's listener over a fake provider; plain HTTP, so the test authenticator reads a header. */
export function adapterListener(o: { fastPath?: boolean; log?: Logger } = {}): RequestListener {
  const item = { metricName: 'desired-replicas', metricLabels: { 'governor.io/policy': 'checkout' }, timestamp: '2025-01-01T00:00:00Z', window: 30, value: '12' };
  const provider = new FakeMetricsProvider(['desired-replicas'], {
    'shop/desired-replicas': [item],
    'empty/desired-replicas': new NoMatchingPolicyError('empty', 'governor.io/policy=x', []),
    'down/desired-replicas': new ValueUnavailableError('no desired-replicas value: source unreachable'),
    'bug/desired-replicas': new TypeError('secret internal detail'),
  });
  const authenticate = (req: IncomingMessage): AuthnResult =>
    req.headers['x-test-user'] ? { ok: true, via: 'requestheader', user: { username: String(req.headers['x-test-user']), groups: [], extra: {} } } : { ok: false, reason: 'no client certificate' };
  return createAdapterListener({ provider, authenticate, log: o.log ?? silentLogger, metrics: createMetrics({ defaultMetrics: false }), ...(o.fastPath === false ? { fastPath: false } : {}) });
}

export interface Served {
  readonly port: number;
  send(r: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<{ status: number; headers: IncomingMessage['headers']; text: string }>;
  close(): Promise<void>;
}

/** The listener on 127.0.0.1 (plain HTTP: the listeners do not know the transport), with a keep-alive client. */
export async function serve(listener: RequestListener): Promise<Served> {
  const server = createServer({ requestTimeout: 10_000 }, listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  return {
    port,
    send: (r) =>
      new Promise((resolve, reject) => {
        const body = r.body ?? undefined;
        const req = request(
          { host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path, agent, headers: { ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}), ...(r.headers ?? {}) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A 4xx/5xx answer is a metav1.Status with a bounded message and no stack trace; 5xx bodies stay generic. */
export function assertCleanStatus(res: { status: number; text: string }, what: string): void {
  let body: any;
  try {
    body = JSON.parse(res.text);
  } catch {
    assert.fail(`${what}: ${res.status} with a body that is not JSON: ${res.text.slice(0, 200)}`);
  }
  assert.equal(body.kind, 'Status', `${what}: ${res.text.slice(0, 200)}`);
  assert.equal(body.code, res.status, what);
  assert.equal(typeof body.message, 'string', what);
  assert.ok(body.message.length <= 2000, `${what}: message of ${body.message.length} characters`);
  assert.doesNotMatch(res.text, /\n\s+at |\bat [\w.<>]+ \(.*:\d+:\d+\)/, `${what}: stack trace in the body`);
  if (res.status >= 500) assert.doesNotMatch(body.message, /secret internal detail|TypeError/, `${what}: internal detail in a 5xx body`);
}

/** A logger at info level whose JSON lines are kept for inspection. */
export function capturingLogger(level: 'info' | 'debug' = 'info'): { log: Logger; lines: () => string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger({ level, destination: sink }), lines: () => lines };
}
