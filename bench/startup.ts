// Bench 4: time from process start to ready (adapter and webhook /readyz both 200) for `governor serve`, with the
// sample policies and with 10,000 ScalingPolicies, from the TypeScript sources (tsx) and from the build (dist/, what
// the image runs) when present. Baseline: a Node process that only starts an HTTPS server and answers /readyz.
// Serving certificates exist beforehand (as from a Secret), so key generation is not part of the figure. Every process
// runs with the Deployment's NODE_OPTIONS (bench/lib/deployment.ts), as in the pod.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/observability/log.js';
import { BUILT_CLI, deploymentEnv } from './lib/deployment.js';
import { serviceDnsNames } from '../src/tls/certs.js';
import { ensureServingCert } from '../src/tls/serving.js';

export interface StartupRow {
  readonly what: string;
  readonly runtime: 'tsx' | 'dist' | 'node';
  readonly policies: number;
  readonly readyMs: number[];
  readonly rssMiB: number[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function ready(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', ca, servername: 'localhost', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Starts the command, polls the ports' /readyz every 10 ms, returns the time to all-200 and the RSS then. */
async function timeToReady(cmd: string[], ports: number[], ca: string, limitMs: number): Promise<{ ms: number; rss: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, cmd, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...deploymentEnv(), KUBERNETES_SERVICE_HOST: '', GOVERNOR_ALLOWED_SOURCE_HOSTS: '127.0.0.1' } });
  let err = '';
  child.stderr!.on('data', (c) => (err = (err + String(c)).slice(-3000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const pending = new Set(ports);
    while (pending.size) {
      if (performance.now() - t0 > limitMs) throw new Error(`not ready after ${limitMs} ms: ${err}`);
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${err}`);
      for (const p of [...pending]) if (await ready(p, ca)) pending.delete(p);
      if (pending.size) await new Promise((r) => setTimeout(r, 10));
    }
    return { ms: performance.now() - t0, rss: rssMiB(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(kill);
  }
}

const BASELINE = `
const https = require('node:https'); const fs = require('node:fs');
const s = https.createServer({ cert: fs.readFileSync(process.argv[1] + '/tls.crt'), key: fs.readFileSync(process.argv[1] + '/tls.key') }, (q, r) => r.end('ok'));
s.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

export async function benchStartup(o: { repeats: number; largePolicies: number; build: boolean; log: (s: string) => void }): Promise<StartupRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-startup-'));
  const hits = { n: 0 };
  const source: Server = createServer((_q, s) => {
    hits.n++;
    s.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{"rps":450}}');
  });
  await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
  const sourcePort = (source.address() as { port: number }).port;
  const rows: StartupRow[] = [];
  try {
    const certDir = join(dir, 'certs');
    const certs = await ensureServingCert({ certDir, dnsNames: [...serviceDnsNames('kube-governor', 'kube-governor'), 'localhost'], ipAddresses: ['127.0.0.1', '::1'] }, silentLogger);
    const ca = readFileSync(certs.caFile!, 'utf8');
    const large = join(dir, 'large');
    mkdirSync(large);
    const docs: string[] = [];
    for (let i = 0; i < o.largePolicies; i++) {
      docs.push(
        `apiVersion: governor.io/v1alpha1\nkind: ScalingPolicy\nmetadata: {name: svc-${i}, namespace: team-${i % 100}}\nspec:\n  target: {apiVersion: apps/v1, kind: Deployment, name: svc-${i}}\n  load: {http: {url: 'http://127.0.0.1:${sourcePort}/load/${i}', valuePath: data.rps}}\n  thresholds: {low: 100, high: 800}\n  replicas: {min: 2, base: 3, max: 20}\n  interval: 30s\n`,
      );
    }
    for (let f = 0; f * 500 < o.largePolicies; f++) writeFileSync(join(large, `scaling-${f}.yaml`), docs.slice(f * 500, (f + 1) * 500).join('---\n'));

    if (o.build) {
      o.log('  building dist/ (npm run build)');
      await new Promise<void>((resolve, reject) => {
        const b = spawn('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
        b.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`npm run build exited with ${code}`))));
      });
    }
    const runtimes: ('tsx' | 'dist')[] = ['tsx', ...(existsSync(BUILT_CLI) ? (['dist'] as const) : [])];
    const distCli = BUILT_CLI;

    const base = { what: 'bare node:https, answers /readyz', runtime: 'node' as const, policies: 0, readyMs: [] as number[], rssMiB: [] as number[] };
    const sets = [
      { what: 'sample policies (policies/)', policies: -1, args: ['--policies', join(ROOT, 'policies')] },
      { what: `${o.largePolicies} ScalingPolicies + sample GovernancePolicies`, policies: o.largePolicies, args: ['--policies', large, '--policies', join(ROOT, 'policies/governance')] },
    ];
    const cells = new Map<string, StartupRow>();
    for (let r = 0; r < o.repeats; r++) {
      const p0 = await freePort();
      const b = await timeToReady(['-e', BASELINE, certDir, String(p0)], [p0], ca, 30_000);
      base.readyMs.push(b.ms);
      base.rssMiB.push(b.rss);
      for (const runtime of runtimes) {
        for (const set of sets) {
          const [a, w, m] = [await freePort(), await freePort(), await freePort()];
          // KG_BENCH_STARTUP_CPU_PROF=<dir>: a V8 CPU profile of each governor start (the process stops once ready).
          const prof = process.env.KG_BENCH_STARTUP_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.KG_BENCH_STARTUP_CPU_PROF}`, `--cpu-prof-name=${runtime}-${set.policies}-${r}.cpuprofile`] : [];
          const cli = [...prof, ...(runtime === 'tsx' ? ['--import', 'tsx', 'src/cli.ts'] : [distCli])];
          const args = [...cli, 'serve', ...set.args, '--bind-address', '127.0.0.1', '--secure-port', String(a), '--webhook-port', String(w), '--metrics-port', String(m), '--cert-dir', certDir, '--insecure-dev', '--no-cluster-policies', '--prometheus-url', 'http://127.0.0.1:9', '--allowed-source-hosts', '127.0.0.1', '--log-level', 'warn'];
          const res = await timeToReady(args, [a, w], ca, 180_000);
          const key = `${runtime}|${set.what}`;
          const row = cells.get(key) ?? { what: set.what, runtime, policies: set.policies, readyMs: [], rssMiB: [] };
          row.readyMs.push(res.ms);
          row.rssMiB.push(res.rss);
          cells.set(key, row);
          o.log(`  startup ${runtime.padEnd(4)} ${set.what}: ready in ${res.ms.toFixed(0)} ms, RSS ${res.rss.toFixed(0)} MiB (baseline ${b.ms.toFixed(0)} ms)`);
        }
      }
    }
    rows.push(base, ...cells.values());
  } finally {
    await new Promise<void>((r) => source.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
