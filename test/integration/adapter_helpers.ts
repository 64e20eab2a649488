// Helpers for the adapter integration tests: a PKI, an HTTPS client with client certs, a fake kube-apiserver, a governor with only the adapter.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adapterComponent } from '../../src/components.js';
import { startGovernor, type RunningGovernor } from '../../src/main.js';
import type { GovernorOptions } from '../../src/server/options.js';
import { silentLogger, type Logger } from '../../src/observability/log.js';
import { generateCA, generateClientCert, type KeyPairPem } from '../../src/tls/certs.js';

export interface Pki {
  readonly dir: string;
  readonly frontProxyCa: KeyPairPem;
  readonly clientCa: KeyPairPem;
  readonly rogueCa: KeyPairPem;
  /** front-proxy-client, signed by the front-proxy CA: the aggregator's identity. */
  readonly aggregator: KeyPairPem;
  /** signed by the front-proxy CA, CN not allowed */
  readonly intruder: KeyPairPem;
  /** CN front-proxy-client, but signed by an unknown CA */
  readonly rogue: KeyPairPem;
  /** client-CA certificates: alice (groups devs), mallory */
  readonly alice: KeyPairPem;
  readonly mallory: KeyPairPem;
  readonly files: { frontProxyCa: string; clientCa: string };
  cleanup(): void;
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'kg-adapter-pki-'));
  const frontProxyCa = generateCA({ commonName: 'front-proxy-ca' });
  const clientCa = generateCA({ commonName: 'client-ca' });
  const rogueCa = generateCA({ commonName: 'front-proxy-ca' }); // same name, other key
  const files = { frontProxyCa: join(dir, 'front-proxy-ca.crt'), clientCa: join(dir, 'client-ca.crt') };
  writeFileSync(files.frontProxyCa, frontProxyCa.certPem);
  writeFileSync(files.clientCa, clientCa.certPem);
  return {
    dir,
    frontProxyCa,
    clientCa,
    rogueCa,
    aggregator: generateClientCert(frontProxyCa, { commonName: 'front-proxy-client' }),
    intruder: generateClientCert(frontProxyCa, { commonName: 'intruder' }),
    rogue: generateClientCert(rogueCa, { commonName: 'front-proxy-client' }),
    alice: generateClientCert(clientCa, { commonName: 'alice', organization: ['devs'] }),
    mallory: generateClientCert(clientCa, { commonName: 'mallory' }),
    files,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface HttpsResult {
  readonly status: number;
  readonly text: string;
  readonly json: any;
}

/** One HTTPS GET on a fresh connection (no keep-alive), trusting `ca`, optionally with a client certificate. */
export function httpsGet(port: number, path: string, o: { ca: string; cert?: KeyPairPem; headers?: Record<string, string | string[]> }): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'GET',
        ca: o.ca,
        agent: false,
        ...(o.cert ? { cert: o.cert.certPem, key: o.cert.keyPem } : {}),
        headers: o.headers ?? {},
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${path.slice(0, 100)}`)));
    req.on('error', reject);
    req.end();
  });
}

export interface FakeKubeApi {
  readonly url: string;
  readonly kubeconfigFile: string;
  /** SubjectAccessReview specs received. */
  readonly reviews: any[];
  /** spec.replicas per `${namespace}/${kind plural}/${name}` */
  readonly scales: Map<string, number>;
  /** The extension-apiserver-authentication data served (undefined: 404). */
  authConfigMap: Record<string, string> | undefined;
  close(): Promise<void>;
}

/** A plain-HTTP stand-in for kube-apiserver: SubjectAccessReviews (by a rule function), scale subresources, the auth ConfigMap. */
export async function startFakeKubeApi(dir: string, allow: (spec: any) => boolean): Promise<FakeKubeApi> {
  const reviews: any[] = [];
  const scales = new Map<string, number>();
  const api: { authConfigMap: Record<string, string> | undefined } = { authConfigMap: undefined };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const json = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const url = req.url ?? '';
    if (url === '/apis/authorization.k8s.io/v1/subjectaccessreviews' && req.method === 'POST') {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      reviews.push(body.spec);
      const allowed = allow(body.spec);
      return json(201, { ...body, status: { allowed, ...(allowed ? {} : { reason: 'no RBAC policy matched' }) } });
    }
    const m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)\/scale$/.exec(url);
    if (m) {
      const v = scales.get(`${m[1]}/${m[2]}/${m[3]}`);
      if (v === undefined) return json(404, { kind: 'Status', code: 404, message: 'not found' });
      return json(200, { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: v }, status: { replicas: v } });
    }
    // governor.io policy resources: empty lists, and watches that stay open with nothing to say (the cluster policy
    // source syncs, so readiness does not wait for it).
    if (url.startsWith('/apis/governor.io/v1alpha1/')) {
      if (/[?&]watch=(true|1)/.test(url)) return void res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
      return json(200, { kind: 'List', apiVersion: 'governor.io/v1alpha1', metadata: { resourceVersion: '1' }, items: [] });
    }
    if (url === '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication' && api.authConfigMap) {
      return json(200, { kind: 'ConfigMap', data: api.authConfigMap });
    }
    json(404, { kind: 'Status', code: 404, message: `not found: ${url}` });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const kubeconfigFile = join(dir, `kubeconfig-${port}`);
  writeFileSync(
    kubeconfigFile,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: fake, cluster: {server: "' + url + '", insecure-skip-tls-verify: true}}]', // plain HTTP fake: client-node requires the flag
      'users: [{name: governor, user: {token: test-token}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: governor}}]',
      'current-context: fake',
      '',
    ].join('\n'),
  );
  return Object.assign(api, {
    url,
    kubeconfigFile,
    reviews,
    scales,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  }) as FakeKubeApi;
}

/** A settable JSON load endpoint: GET / → {"data":{"rps": <value>}}. */
export async function startLoadEndpoint(initial: number): Promise<{ url: string; set(v: number): void; hits(): number; close(): Promise<void> }> {
  let value = initial;
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { rps: value } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    set: (v) => (value = v),
    hits: () => hits,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

export function governorOptions(dir: string, over: Partial<GovernorOptions>): GovernorOptions {
  return {
    policies: [join(dir, 'policies')],
    bindAddress: '127.0.0.1',
    securePort: 0,
    webhookPort: 0,
    metricsPort: 0,
    certDir: join(dir, 'certs'),
    serviceName: 'kube-governor',
    serviceNamespace: 'kube-governor',
    requestheaderAllowedNames: [],
    requestheaderUsernameHeaders: ['X-Remote-User'],
    requestheaderGroupHeaders: ['X-Remote-Group'],
    requestheaderExtraHeadersPrefix: ['X-Remote-Extra-'],
    prometheusUrl: 'http://127.0.0.1:9',
    // Servers under test reach loopback only (what GOVERNOR_ALLOWED_SOURCE_HOSTS does for `governor serve`).
    allowedSourceHosts: ['127.0.0.1', 'localhost', '::1'],
    insecureDev: false,
    enableAdapter: true,
    enableWebhook: false,
    policyPollMs: 60_000,
    shutdownGraceMs: 1000,
    ...over,
  };
}

/** Starts governor with only the adapter component. */
export function startAdapter(options: GovernorOptions, log: Logger = silentLogger): Promise<RunningGovernor> {
  return startGovernor(options, [adapterComponent], log);
}
