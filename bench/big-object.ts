// Bench: one huge violating object against `governor serve` (webhook only, HTTPS, info logs) in a child process.
// A Deployment with N containers, each over the policy's max (one violation per container), posted to /validate
// 1 or 4 times at once, with a small compliant review sent while they are in flight. Reports the big reviews' time,
// the small review's latency (what the event-loop stall costs an unrelated request), the answer's size, the longest
// log line and the server's RSS before and at its peak (VmHWM, a fresh process per scenario).
// Usage: npm run build && node --import tsx bench/big-object.ts [containers=40000] [concurrency=1,4]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILT_CLI } from './lib/deployment.js';

// GOVERNOR_ROOT: another checkout to measure (e.g. the commit before a fix), built there with npm run build.
const ROOT = process.env.GOVERNOR_ROOT ?? join(import.meta.dirname, '..');
const containers = Number(process.argv[2] ?? 40_000);
const concurrencies = (process.argv[3] ?? '1,4').split(',').map(Number);

const POLICY = `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: bench-max}
spec:
  mode: enforce
  match: {kinds: [Deployment], namespaces: [bench]}
  resources:
    max: {cpu: "4", memory: 8Gi}
`;

function deployment(n: number, name: string) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'bench', labels: { app: name } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: Array.from({ length: n }, (_, i) => ({ name: `c${i}`, resources: { limits: { cpu: n > 1 ? '5' : '1' } } })) },
      },
    },
  };
}

function review(uid: string, object: unknown): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' }, name: (object as any).metadata.name, namespace: 'bench', operation: 'CREATE', userInfo: { username: 'bench' }, object, oldObject: null, dryRun: false },
  });
}

interface Answer {
  ms: number;
  bytes: number;
  allowed: boolean;
  message: string;
}

function post(port: number, ca: string, body: string): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/validate?timeout=5s', method: 'POST', ca, servername: 'localhost', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        let allowed = false;
        let message = '';
        try {
          const r = JSON.parse(buf.toString('utf8')).response;
          allowed = r.allowed;
          message = r.status?.message ?? '';
        } catch {
          message = `status ${res.statusCode}: ${buf.toString('utf8').slice(0, 200)}`;
        }
        resolve({ ms: performance.now() - t0, bytes: buf.length, allowed, message });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function status(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function startServe(dir: string): Promise<{ child: ChildProcess; port: number; longestLogLine: () => number; logBytes: () => number }> {
  const env = { ...process.env };
  delete env.KUBERNETES_SERVICE_HOST;
  // The compiled CLI (npm run build) as in the image; tsx's loader would add its own memory to every figure.
  const cli = existsSync(BUILT_CLI) ? [BUILT_CLI] : ['--import', 'tsx', 'src/cli.ts'];
  const child = spawn(process.execPath, [...cli, 'serve', '--no-adapter', '--no-cluster-policies', '--policies', join(dir, 'policies'), '--bind-address', '127.0.0.1', '--webhook-port', '0', '--metrics-port', '0', '--secure-port', '0', '--cert-dir', join(dir, 'certs')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let longest = 0;
  let total = 0;
  let pending = '';
  let port = 0;
  const ready = new Promise<number>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`governor serve exited with ${code}`)));
    child.stdout!.on('data', (c: Buffer) => {
      total += c.length;
      pending += c.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) {
        longest = Math.max(longest, Buffer.byteLength(l));
        if (!port && l.includes('admission webhook serving')) resolve((port = JSON.parse(l).port));
      }
      longest = Math.max(longest, Buffer.byteLength(pending));
    });
    child.stderr!.on('data', () => undefined);
  });
  return { child, port: await ready, longestLogLine: () => longest, logBytes: () => total };
}

async function scenario(concurrency: number, bigBody: string, smallBody: string) {
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-big-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'bench.yaml'), POLICY);
  const s = await startServe(dir);
  try {
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    // Warm up: TLS, JIT, the first review.
    for (let i = 0; i < 20; i++) await post(s.port, ca, smallBody);
    const small0 = await post(s.port, ca, smallBody);
    const before = status(s.child.pid!);
    const bigs = Array.from({ length: concurrency }, () => post(s.port, ca, bigBody));
    // The small review goes out while the big ones are being read and reviewed.
    await new Promise((r) => setTimeout(r, 50));
    const small = await post(s.port, ca, smallBody);
    const answers = await Promise.all(bigs);
    await new Promise((r) => setTimeout(r, 200));
    const after = status(s.child.pid!);
    return {
      concurrency,
      bigMs: Math.max(...answers.map((a) => a.ms)),
      smallIdleMs: small0.ms,
      smallDuringMs: small.ms,
      answerBytes: Math.max(...answers.map((a) => a.bytes)),
      denied: answers.every((a) => !a.allowed),
      messageHead: answers[0]!.message.split('\n').slice(0, 2).join(' | ').slice(0, 200),
      messageLines: answers[0]!.message.split('\n').length,
      longestLogLineBytes: s.longestLogLine(),
      logBytes: s.logBytes(),
      rssBeforeMiB: +(before.rss / 2 ** 20).toFixed(0),
      peakRssMiB: +(after.hwm / 2 ** 20).toFixed(0),
    };
  } finally {
    s.child.kill('SIGTERM');
    await new Promise((r) => s.child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const bigBody = review('big', deployment(containers, 'big'));
const smallBody = review('small', deployment(1, 'small'));
console.log(`containers ${containers}, request body ${(Buffer.byteLength(bigBody) / 2 ** 20).toFixed(2)} MiB`);
for (const c of concurrencies) console.log(JSON.stringify(await scenario(c, bigBody, smallBody)));
