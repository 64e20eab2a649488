// Latency of a cached desired-replicas request on loopback, through TLS with a front-proxy client certificate and
// X-Remote-User, as the aggregator sends it. The adapter runs in this process; the load generator in a child process.
//
//   node --import tsx bench/adapter-latency.ts [--duration 10] [--connections 1,10]
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adapterComponent } from '../src/components.js';
import { startGovernor } from '../src/main.js';
import { governorOptions } from '../test/integration/adapter_helpers.js';
import { silentLogger } from '../src/observability/log.js';
import { generateCA, generateClientCert } from '../src/tls/certs.js';

const PATH = `/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/desired-replicas?labelSelector=${encodeURIComponent('governor.io/policy=checkout')}`;

interface ClientJob {
  port: number;
  ca: string;
  cert: string;
  key: string;
  connections: number;
  durationS: number;
}

interface ClientResult {
  connections: number;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
}

/** Keep-alive HTTPS clients, each sending requests back to back; latency per request with hrtime (µs resolution). */
async function runClient(job: ClientJob): Promise<ClientResult> {
  const { Agent, request } = await import('node:https');
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections, ca: job.ca, cert: job.cert, key: job.key });
  const headers = { 'X-Remote-User': 'system:kube-aggregator', 'X-Remote-Group': 'system:masters', accept: 'application/json' };
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let lastStatus = 0;
  const deadline = performance.now() + job.durationS * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = request({ host: '127.0.0.1', port: job.port, path: PATH, agent, headers }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          if (res.statusCode !== 200 && non2xx === 0) process.stderr.write(`first failure: HTTP ${res.statusCode} ${body.slice(0, 300)}\n`);
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          lastStatus = res.statusCode ?? 0;
          if (lastStatus < 200 || lastStatus > 299) non2xx++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const loop = async () => {
    while (performance.now() < deadline) await one();
  };
  // Warm-up: TLS handshakes and the first (uncached) evaluation are not what we measure.
  await Promise.all(Array.from({ length: job.connections }, () => one()));
  latencies.length = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: job.connections }, loop));
  const elapsedS = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
  return { connections: job.connections, requests: latencies.length, rps: latencies.length / elapsedS, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: latencies.at(-1) ?? Number.NaN, non2xx, errors };
}

if (process.argv.includes('--client')) {
  // Child: the load generator.
  process.once('message', async (job: ClientJob) => {
    const res = await runClient(job);
    process.send!(res, () => process.exit(0));
  });
} else {
  await main();
}

async function main() {
  const arg = (name: string, dflt: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1]! : dflt;
  };
  const durationS = Math.min(60, Number(arg('--duration', '10')));
  const connectionSets = arg('--connections', '1,10').split(',').map(Number).filter((n) => n > 0 && n <= 100);

  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-'));
  const load = createServer((_q, s) => s.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{"rps":450}}'));
  await new Promise<void>((r) => load.listen(0, '127.0.0.1', r));
  const loadPort = (load.address() as { port: number }).port;
  let loadHits = 0;
  load.on('request', () => loadHits++);

  const frontProxyCa = generateCA({ commonName: 'front-proxy-ca' });
  const aggregator = generateClientCert(frontProxyCa, { commonName: 'front-proxy-client' });
  writeFileSync(join(dir, 'front-proxy-ca.crt'), frontProxyCa.certPem);
  mkdirSync(join(dir, 'policies'));
  writeFileSync(
    join(dir, 'policies', 'checkout.yaml'),
    `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: checkout, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: checkout}
  load: {http: {url: 'http://127.0.0.1:${loadPort}/', valuePath: data.rps}}
  thresholds: {low: 100, high: 800}
  replicas: {min: 2, base: 3, max: 20}
  interval: 5m
  staleAfter: 10m
`,
  );
  const options = governorOptions(dir, { requestheaderClientCaFile: join(dir, 'front-proxy-ca.crt'), requestheaderAllowedNames: ['front-proxy-client'] });
  const gov = await startGovernor(options, [adapterComponent], silentLogger);
  const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
  const port = gov.ports.adapter!;

  const results: ClientResult[] = [];
  try {
    for (const connections of connectionSets) {
      const child = fork(fileURLToPath(import.meta.url), ['--client'], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
      const res = await new Promise<ClientResult>((resolve, reject) => {
        child.once('message', (m) => resolve(m as ClientResult));
        child.once('exit', (code) => code && reject(new Error(`load generator exited with ${code}`)));
        child.send({ port, ca, cert: aggregator.certPem, key: aggregator.keyPem, connections, durationS } satisfies ClientJob);
      });
      results.push(res);
    }
  } finally {
    await gov.stop();
    await new Promise<void>((r) => load.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(`cached value request, HTTPS + front-proxy client cert, loopback, ${durationS}s per run (load generator: keep-alive HTTPS clients in a child process)`);
  console.log('connections  requests   req/s     p50 ms  p90 ms  p99 ms  max ms  non-2xx errors');
  for (const r of results) {
    console.log(
      `${String(r.connections).padStart(11)}  ${String(r.requests).padStart(8)}  ${r.rps.toFixed(0).padStart(7)}  ${r.p50.toFixed(2).padStart(7)} ${r.p90.toFixed(2).padStart(7)} ${r.p99.toFixed(2).padStart(7)} ${r.max.toFixed(2).padStart(7)}  ${String(r.non2xx).padStart(7)} ${String(r.errors).padStart(6)}`,
    );
  }
  console.log(`load source queries during the whole run: ${loadHits} (one per policy per interval)`);
  if (results.some((r) => r.non2xx > 0 || r.errors > 0)) process.exitCode = 1;
}
