// Stand-ins for what bench/peers/review.ts exports on the branch that makes `governor review` stream
// (writeDeployments, runGovernorReview): same names and the same measurement, so that once that branch is merged the
// Kyverno bench imports them from './review.js' and this file goes. Kept small on purpose.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Wall time, CPU and peak RSS of one child process, from wait4's rusage (GNU time). */
export interface ProcessCost {
  readonly wallS: number;
  readonly userS: number;
  readonly sysS: number;
  /** ru_maxrss: the child's peak resident set (VmHWM). */
  readonly peakRssMiB: number;
  readonly exitCode: number;
}

const TIME = '/usr/bin/time';

/**
 * Runs `bin args` under GNU time (wait4: user, system, maxrss), stdout to `stdoutFile`, stderr kept (last 4 KiB).
 * Bounded: SIGKILL after `timeoutMs`.
 */
export function measureProcess(bin: string, args: readonly string[], o: { stdoutFile: string; cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<ProcessCost & { stderr: string }> {
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing (Debian: apt-get install time): the peer benches read CPU and peak RSS from its wait4 rusage`);
  const timeFile = `${o.stdoutFile}.time`;
  const out = openSync(o.stdoutFile, 'w');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(TIME, ['-o', timeFile, '-f', '%x %U %S %M', bin, ...args], { cwd: o.cwd ?? ROOT, env: o.env ?? process.env, stdio: ['ignore', out, 'pipe'] });
    closeSync(out);
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr = (stderr + String(c)).slice(-4096)));
    const kill = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 600_000);
    child.once('error', reject);
    child.once('exit', () => {
      clearTimeout(kill);
      const wallS = (performance.now() - t0) / 1000;
      const line = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) ?? '';
      const [code, user, sys, maxKiB] = line.split(' ').map(Number);
      if (![code, user, sys, maxKiB].every((x) => Number.isFinite(x))) return reject(new Error(`cannot read ${timeFile}: "${line}"\n${stderr}`));
      resolve({ wallS, userS: user!, sysS: sys!, peakRssMiB: maxKiB! / 1024, exitCode: code!, stderr });
    });
  });
}

/** mulberry32: a small seeded generator, so every tool and every run sees the same workloads. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CLASSES = ['public', 'internal', 'confidential', 'pii'];

/**
 * Deployment number `i` of a seeded set: one to three containers whose requests and memory limit are each sometimes
 * missing (the defaults fill the requests; a missing memory limit is denied), owner and data-classification labels
 * sometimes missing or out of the allowed list. About a fifth are denied by the bench policies.
 */
export function deployment(rand: () => number, i: number, namespace: string): Record<string, unknown> {
  const name = `svc-${i}`;
  const labels: Record<string, string> = { app: name };
  if (rand() < 0.95) labels.owner = `team-${Math.floor(rand() * 40)}`;
  if (rand() < 0.95) labels['data-classification'] = rand() < 0.97 ? CLASSES[Math.floor(rand() * CLASSES.length)]! : 'secret';
  const containers = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, c) => {
    const requests: Record<string, string> = {};
    const limits: Record<string, string> = {};
    // A memory request never above the memory limit: the API server refuses such a Deployment before any webhook.
    const limitMi = rand() < 0.95 ? 128 * (1 + Math.floor(rand() * 8)) : 0;
    if (rand() < 0.7) requests.cpu = `${100 + Math.floor(rand() * 9) * 100}m`;
    if (rand() < 0.7) requests.memory = `${Math.min(64 * (1 + Math.floor(rand() * 8)), limitMi || Infinity)}Mi`;
    if (limitMi) limits.memory = `${limitMi}Mi`;
    const resources = { ...(Object.keys(requests).length ? { requests } : {}), ...(Object.keys(limits).length ? { limits } : {}) };
    return { name: c === 0 ? 'app' : `sidecar-${c}`, image: `registry.example.com/shop/${name}:1.${c}.0`, ports: [{ containerPort: 8080 + c }], ...(Object.keys(resources).length ? { resources } : {}) };
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels, annotations: { 'cost-center': 'CC-1001' } },
    spec: {
      replicas: 1 + Math.floor(rand() * 3),
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers } },
    },
  };
}

/** Writes `n` seeded Deployments (namespace shop) to `dir`, 100 documents per file; returns the file paths. */
export function writeDeployments(dir: string, n: number, seed: number): string[] {
  mkdirSync(dir, { recursive: true });
  const rand = random(seed);
  const files: string[] = [];
  for (let f = 0; f * 100 < n; f++) {
    const docs = Array.from({ length: Math.min(100, n - f * 100) }, (_, k) => stringify(deployment(rand, f * 100 + k, 'shop')));
    const file = join(dir, `${String(f).padStart(4, '0')}-deployments.yaml`);
    writeFileSync(file, docs.join('---\n'));
    files.push(file);
  }
  return files;
}

export interface GovernorReviewResult extends ProcessCost {
  readonly objects: number;
  readonly denied: number;
  /** namespace/name of every denied object. */
  readonly deniedNames: string[];
}

/**
 * `governor review --policies <policiesDir> -o json <objects>` from the build (dist/cli.js: what users run; `npm run
 * build` first), measured as one process; verdicts from its ReviewReport.
 */
export async function runGovernorReview(o: { objects: string; policiesDir: string; workDir: string }): Promise<GovernorReviewResult> {
  const stdoutFile = join(o.workDir, 'governor-review.json');
  const cli = join(ROOT, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const cost = await measureProcess(process.execPath, [cli, 'review', '--policies', o.policiesDir, '-o', 'json', o.objects], { stdoutFile });
  if (cost.exitCode !== 0 && cost.exitCode !== 1) throw new Error(`governor review exited with ${cost.exitCode}:\n${cost.stderr}`);
  const report = JSON.parse(readFileSync(stdoutFile, 'utf8')) as { summary: { objects: number; denied: number }; results: { allowed: boolean; object: { namespace?: string; name?: string } }[] };
  const deniedNames = report.results.filter((r) => !r.allowed).map((r) => `${r.object.namespace ?? ''}/${r.object.name ?? ''}`);
  return { wallS: cost.wallS, userS: cost.userS, sysS: cost.sysS, peakRssMiB: cost.peakRssMiB, exitCode: cost.exitCode, objects: report.summary.objects, denied: report.summary.denied, deniedNames };
}
