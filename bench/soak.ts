// Soak: `governor serve` (adapter + webhook) under steady mixed load for a bounded time (default 150 s, at most 300 s),
// loopback only, with faults injected midway: the load source goes down and comes back, the policy directory turns
// invalid and is repaired, the serving certificate is rotated. Reports RSS over time, error counts and latencies.
//
//   node --import tsx bench/soak.ts [--duration 150]
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { request } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCA, generateClientCert, generateServingCert, serviceDnsNames } from '../src/tls/certs.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { fixedRate, type RequestSpec } from './lib/load.js';
import { webhookRequests } from './webhook.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
};
const durationS = Math.min(300, Math.max(30, Number(arg('--duration', '150'))));
const WEBHOOK_RATE = 200;
const ADAPTER_RATE = 100;
const POLICIES = 20;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const machine = machineInfo();
log(`soak ${durationS} s — ${describeMachine(machine)}`);

const dir = mkdtempSync(join(tmpdir(), 'kg-soak-'));
// The load source: healthy, or down (connections dropped) while the fault lasts.
const source = { down: false, hits: 0 };
const loadServer = createServer((req, res) => {
  source.hits++;
  if (source.down) return void req.socket.destroy();
  res.writeHead(200, { 'content-type': 'application/json' }).end(`{"data":{"rps":${300 + (source.hits % 200)}}}`);
});
await new Promise<void>((r) => loadServer.listen(0, '127.0.0.1', r));
const sourcePort = (loadServer.address() as { port: number }).port;

// PKI: our own CA for the serving certificate (so it can be rotated mid-run) and the aggregator's front-proxy CA.
const ca = generateCA({ commonName: 'soak-ca' });
const names = { dnsNames: [...serviceDnsNames('kube-governor', 'kube-governor'), 'localhost'], ipAddresses: ['127.0.0.1'] };
const serving = generateServingCert(ca, { commonName: 'soak-1', ...names });
const frontProxyCa = generateCA({ commonName: 'front-proxy-ca' });
const aggregator = generateClientCert(frontProxyCa, { commonName: 'front-proxy-client' });
const certFile = join(dir, 'tls.crt');
const keyFile = join(dir, 'tls.key');
writeFileSync(certFile, serving.certPem);
writeFileSync(keyFile, serving.keyPem);
writeFileSync(join(dir, 'front-proxy-ca.crt'), frontProxyCa.certPem);

const policyDir = join(dir, 'policies');
mkdirSync(policyDir);
for (const f of readdirSync(join(ROOT, 'policies/governance'))) if (f.endsWith('.yaml')) copyFileSync(join(ROOT, 'policies/governance', f), join(policyDir, f));
writeFileSync(
  join(policyDir, 'scaling.yaml'),
  Array.from(
    { length: POLICIES },
    (_, i) => `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: svc-${i}, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: svc-${i}}
  load: {http: {url: 'http://127.0.0.1:${sourcePort}/load/${i}', valuePath: data.rps, timeout: 1s}}
  thresholds: {low: 100, high: 800}
  replicas: {min: 2, base: 3, max: 20}
  interval: 5s
  staleAfter: 1m
  onSourceFailure: {action: hold, after: 3}
`,
  ).join('---\n'),
);

const [adapterPort, webhookPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
const child = spawn(
  process.execPath,
  ['--import', 'tsx', 'src/cli.ts', 'serve', '--policies', policyDir, '--bind-address', '127.0.0.1', '--secure-port', String(adapterPort), '--webhook-port', String(webhookPort), '--metrics-port', String(metricsPort),
    '--tls-cert-file', certFile, '--tls-private-key-file', keyFile, '--requestheader-client-ca-file', join(dir, 'front-proxy-ca.crt'), '--requestheader-allowed-names', 'front-proxy-client',
    '--no-cluster-policies', '--allowed-source-hosts', '127.0.0.1', '--prometheus-url', 'http://127.0.0.1:9', '--policy-poll', '1s', '--log-level', 'info'],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBERNETES_SERVICE_HOST: '' } },
);
const levels: Record<string, number> = {};
const errorSamples: string[] = [];
let buf = '';
child.stdout!.on('data', (c: Buffer) => {
  buf += c;
  const lines = buf.split('\n');
  buf = lines.pop()!;
  for (const l of lines) {
    const level = /"level":"(\w+)"/.exec(l)?.[1] ?? 'other';
    levels[level] = (levels[level] ?? 0) + 1;
    if ((level === 'error' || level === 'fatal') && errorSamples.length < 8) errorSamples.push(l.slice(0, 300));
  }
});
let stderr = '';
child.stderr!.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

const rss = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
};
const httpsOk = (port: number, path: string) =>
  new Promise<boolean>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, ca: ca.certPem, servername: 'localhost', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.end();
  });
const metric = async (name: string) => {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name));
};

const report: Record<string, unknown> = { machine, durationS, rates: { webhook: WEBHOOK_RATE, adapter: ADAPTER_RATE } };
try {
  for (let i = 0; i < 600 && !((await httpsOk(adapterPort, '/readyz')) && (await httpsOk(webhookPort, '/readyz'))); i++) {
    if (child.exitCode !== null) throw new Error(`governor serve exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`serving (pid ${child.pid}); warming up 10 s`);
  const target = { host: '127.0.0.1', ca: ca.certPem, servername: 'localhost' };
  const adapterRequests: RequestSpec[] = Array.from({ length: POLICIES }, (_, i) => ({
    method: 'GET',
    path: `/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/desired-replicas?labelSelector=${encodeURIComponent(`governor.io/policy=svc-${i}`)}`,
    headers: { accept: 'application/json', 'x-remote-user': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler' },
  }));
  await Promise.all([
    fixedRate({ target: { ...target, port: webhookPort }, requests: webhookRequests(), connections: 8, rate: WEBHOOK_RATE, durationS: 10, warmupS: 0 }),
    fixedRate({ target: { ...target, port: adapterPort, cert: aggregator.certPem, key: aggregator.keyPem }, requests: adapterRequests, connections: 4, rate: ADAPTER_RATE, durationS: 10, warmupS: 0 }),
  ]);
  const rssBefore = rss();
  log(`RSS before the soak: ${rssBefore} MiB; ${durationS} s of ${WEBHOOK_RATE} admission + ${ADAPTER_RATE} metric requests/s`);
  const samples: { t: number; rssMiB: number }[] = [{ t: 0, rssMiB: rssBefore }];
  const t0 = Date.now();
  const sampler = setInterval(() => samples.push({ t: Math.round((Date.now() - t0) / 1000), rssMiB: rss() }), 10_000);
  const at = (fraction: number, what: string, f: () => void) =>
    setTimeout(() => {
      log(what);
      f();
    }, durationS * 1000 * fraction);
  const faults = [
    at(0.3, 'fault: load source down', () => (source.down = true)),
    at(0.45, 'fault: policy directory invalid (a broken file appears)', () => writeFileSync(join(policyDir, 'zz-broken.yaml'), 'apiVersion: governor.io/v1alpha1\nkind: ScalingPolicy\nmetadata: {name: broken\n')),
    at(0.55, 'repair: broken policy file removed', () => unlinkSync(join(policyDir, 'zz-broken.yaml'))),
    at(0.6, 'repair: load source back', () => (source.down = false)),
    at(0.7, 'fault: serving certificate rotated on disk', () => {
      const next = generateServingCert(ca, { commonName: 'soak-2', ...names });
      writeFileSync(keyFile, next.keyPem);
      writeFileSync(certFile, next.certPem);
    }),
  ];
  const [webhook, adapter] = await Promise.all([
    fixedRate({ target: { ...target, port: webhookPort }, requests: webhookRequests(), connections: 8, rate: WEBHOOK_RATE, durationS, warmupS: 0 }),
    fixedRate({ target: { ...target, port: adapterPort, cert: aggregator.certPem, key: aggregator.keyPem }, requests: adapterRequests, connections: 4, rate: ADAPTER_RATE, durationS, warmupS: 0 }),
  ]);
  clearInterval(sampler);
  faults.forEach(clearTimeout);
  const rssAfter = rss();
  samples.push({ t: durationS, rssMiB: rssAfter });
  const certNow = await new Promise<string>((resolve) => {
    const req = request({ host: '127.0.0.1', port: webhookPort, path: '/healthz', ca: ca.certPem, servername: 'localhost', agent: false }, (res) => {
      resolve(String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN));
      res.resume();
    });
    req.on('error', () => resolve('?'));
    req.end();
  });
  Object.assign(report, {
    rssBeforeMiB: rssBefore,
    rssAfterMiB: rssAfter,
    rssSamples: samples,
    webhook: { requests: webhook.measured, non2xx: webhook.non2xx, errors: webhook.errors, errorSamples: webhook.errorSamples, p50: webhook.p50, p99: webhook.p99, p999: webhook.p999, max: webhook.max },
    adapter: { requests: adapter.measured, non2xx: adapter.non2xx, errors: adapter.errors, errorSamples: adapter.errorSamples, p50: adapter.p50, p99: adapter.p99, p999: adapter.p999, max: adapter.max },
    logLines: levels,
    errorSamples,
    sourceErrors: await metric('governor_source_errors_total'),
    policyReloads: await metric('governor_policy_reloads_total'),
    certificateAfterRotation: certNow,
  });
} finally {
  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 15_000))]);
  if (code === 'timeout') child.kill('SIGKILL');
  report.exitCode = code;
  loadServer.close();
  rmSync(dir, { recursive: true, force: true });
}
const stamp = new Date().toISOString().slice(0, 16).replace(':', '-');
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results', `soak-${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
const w = report.webhook as { requests: number; non2xx: number; errors: number; errorSamples: string[]; p99: number; max: number };
const a = report.adapter as { requests: number; non2xx: number; errors: number; errorSamples: string[]; p99: number; max: number };
log(`RSS ${report.rssBeforeMiB} → ${report.rssAfterMiB} MiB (samples ${(report.rssSamples as { rssMiB: number }[]).map((s) => s.rssMiB).join(' ')})`);
log(`webhook: ${w.requests} requests, ${w.non2xx} non-2xx, ${w.errors} errors${w.errorSamples.length ? ` (${w.errorSamples.join('; ')})` : ''}, p99 ${w.p99.toFixed(2)} ms, max ${w.max.toFixed(1)} ms`);
log(`adapter: ${a.requests} requests, ${a.non2xx} non-2xx, ${a.errors} errors${a.errorSamples.length ? ` (${a.errorSamples.join('; ')})` : ''}, p99 ${a.p99.toFixed(2)} ms, max ${a.max.toFixed(1)} ms`);
log(`log lines by level: ${JSON.stringify(report.logLines)}; certificate after rotation: ${report.certificateAfterRotation}; exit code ${report.exitCode}`);
log(`source errors: ${(report.sourceErrors as string[]).filter((l) => !l.startsWith('#')).length} series; policy reloads: ${(report.policyReloads as string[]).filter((l) => !l.startsWith('#')).join(', ')}`);
log(`written: bench/results/soak-${stamp}.json`);
