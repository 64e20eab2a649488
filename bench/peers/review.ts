// Peer bench, governor's side: the built `governor review` (the package's bin, dist/bundle/cli.js: what users run) as one process on 1, 1,000
// and 10,000 seeded Deployments: wall time, user+system CPU and peak RSS (GNU time's wait4 rusage), and the verdicts.
// The Kyverno CLI side (bench/peers/kyverno-cli.ts) imports writeDeployments, runGovernorReview and measureProcess, so
// both tools see the same workloads and are measured the same way.
//
//   npm run bench -- --only peers-review [--review-counts 1,1000,10000] [--review-baseline /path/to/other/dist/cli.js]
//
// --review-baseline runs another build (e.g. main before a change) in the same run, alternating with this one.
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILT_CLI } from '../lib/deployment.js';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The bench's GovernancePolicies (the Kyverno peer's equivalents). */
export const REVIEW_POLICIES = join(ROOT, 'bench', 'peers', 'review-policies.yaml');
export const GOVERNOR_CLI = BUILT_CLI;

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
 * Runs `bin args` under GNU time (wait4: user, system, maxrss), stdout to `stdoutFile`, stderr to `stderrFile` when
 * given (else its last 4 KiB are kept). Bounded: SIGKILL after `timeoutMs`.
 */
export function measureProcess(
  bin: string,
  args: readonly string[],
  o: { stdoutFile: string; stderrFile?: string; cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv },
): Promise<ProcessCost & { stderr: string }> {
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing (Debian: apt-get install time): the peer benches read CPU and peak RSS from its wait4 rusage`);
  const timeFile = `${o.stdoutFile}.time`;
  const out = openSync(o.stdoutFile, 'w');
  const errFd = o.stderrFile ? openSync(o.stderrFile, 'w') : undefined;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(TIME, ['-o', timeFile, '-f', '%x %U %S %M', bin, ...args], { cwd: o.cwd ?? ROOT, env: o.env ?? process.env, stdio: ['ignore', out, errFd ?? 'pipe'] });
    closeSync(out);
    if (errFd !== undefined) closeSync(errFd);
    let stderr = '';
    child.stderr?.on('data', (c) => (stderr = (stderr + String(c)).slice(-4096)));
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
export function random(seed: number): () => number {
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
    if (rand() < 0.7) requests.cpu = `${100 + Math.floor(rand() * 9) * 100}m`;
    if (rand() < 0.7) requests.memory = `${64 * (1 + Math.floor(rand() * 8))}Mi`;
    if (rand() < 0.95) limits.memory = `${128 * (1 + Math.floor(rand() * 8))}Mi`;
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

export interface ReviewVerdicts {
  readonly objects: number;
  readonly allowed: number;
  readonly denied: number;
  readonly mutated: number;
}

export interface GovernorReviewResult extends ProcessCost {
  readonly wallMs: number;
  /** User + system CPU. */
  readonly cpuMs: number;
  readonly verdicts: ReviewVerdicts;
  readonly objects: number;
  readonly denied: number;
  /** namespace/name of every denied object, in input order. */
  readonly deniedNames: string[];
}

const SUMMARY = /^(\d+) object\(s\) reviewed against (\d+) GovernancePolicy: (\d+) denied, (\d+) with warnings, (\d+) mutated/;
const DENIED = /^.* \(document \d+\) \S+ ([^\s/]*)\/(\S+): denied$/;

/**
 * `governor review --policies <policiesDir> -o <output> <objects>` from the build (dist/bundle/cli.js; `npm run build` first,
 * or `cli` for another build), measured as one process. Verdicts from its stderr: the summary line and one
 * `…: denied` line per denied object (the same for every output format and for builds before streaming).
 */
export async function runGovernorReview(o: { objects: string | readonly string[]; policiesDir: string; workDir: string; cli?: string; output?: 'json' | 'yaml' }): Promise<GovernorReviewResult> {
  const cli = o.cli ?? GOVERNOR_CLI;
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const stdoutFile = join(o.workDir, 'governor-review.out');
  const stderrFile = join(o.workDir, 'governor-review.err');
  const inputs = typeof o.objects === 'string' ? [o.objects] : o.objects;
  const cost = await measureProcess(process.execPath, [cli, 'review', '--policies', o.policiesDir, '-o', o.output ?? 'json', ...inputs], { stdoutFile, stderrFile });
  let summary: RegExpExecArray | null = null;
  const deniedNames: string[] = [];
  for await (const line of createInterface({ input: createReadStream(stderrFile, 'utf8'), crlfDelay: Infinity })) {
    const d = DENIED.exec(line);
    if (d) deniedNames.push(`${d[1]}/${d[2]}`);
    summary = SUMMARY.exec(line) ?? summary;
  }
  if ((cost.exitCode !== 0 && cost.exitCode !== 1) || !summary) throw new Error(`governor review exited with ${cost.exitCode}:\n${readFileSync(stderrFile, 'utf8').slice(-4096)}`);
  const [objects, , denied, , mutated] = summary.slice(1).map(Number) as [number, number, number, number, number];
  return {
    ...cost,
    wallMs: cost.wallS * 1000,
    cpuMs: (cost.userS + cost.sysS) * 1000,
    verdicts: { objects, allowed: objects - denied, denied, mutated },
    objects,
    denied,
    deniedNames,
  };
}

export interface PeersReviewRow {
  readonly build: 'before' | 'after';
  readonly objects: number;
  readonly wallMs: number[];
  readonly cpuMs: number[];
  readonly peakRssMiB: number[];
  readonly verdicts: ReviewVerdicts;
}

/**
 * governor review on each count, `repeats` times, alternating with the baseline build when one is given; the
 * verdicts of every run must agree. Bounded: a fixed number of processes, each killed after 10 minutes.
 */
export async function benchPeersReview(o: { counts: readonly number[]; repeats: number; baselineCli?: string; seed?: number; log: (s: string) => void }): Promise<PeersReviewRow[]> {
  const builds: { build: PeersReviewRow['build']; cli: string }[] = [...(o.baselineCli ? [{ build: 'before' as const, cli: o.baselineCli }] : []), { build: 'after', cli: GOVERNOR_CLI }];
  const rows: PeersReviewRow[] = [];
  const work = mkdtempSync(join(tmpdir(), 'kg-peers-review-'));
  try {
    for (const n of o.counts) {
      const manifests = join(work, `m-${n}`);
      writeDeployments(manifests, n, o.seed ?? 16);
      const byBuild = new Map(builds.map((b) => [b.build, { build: b.build, objects: n, wallMs: [] as number[], cpuMs: [] as number[], peakRssMiB: [] as number[], verdicts: undefined as ReviewVerdicts | undefined }]));
      for (let r = 0; r < o.repeats; r++) {
        for (const b of r % 2 ? [...builds].reverse() : builds) {
          const res = await runGovernorReview({ objects: manifests, policiesDir: REVIEW_POLICIES, workDir: work, cli: b.cli });
          const row = byBuild.get(b.build)!;
          if (row.verdicts && JSON.stringify(row.verdicts) !== JSON.stringify(res.verdicts)) throw new Error(`${b.build}: verdicts differ between runs: ${JSON.stringify(row.verdicts)} / ${JSON.stringify(res.verdicts)}`);
          row.verdicts = res.verdicts;
          row.wallMs.push(res.wallMs);
          row.cpuMs.push(res.cpuMs);
          row.peakRssMiB.push(res.peakRssMiB);
          o.log(`  ${b.build.padEnd(6)} ${String(n).padStart(6)} objects: wall ${res.wallMs.toFixed(0)} ms, CPU ${res.cpuMs.toFixed(0)} ms, peak RSS ${res.peakRssMiB.toFixed(0)} MiB; ${res.verdicts.denied} denied, ${res.verdicts.mutated} mutated`);
        }
      }
      const before = byBuild.get('before');
      const after = byBuild.get('after')!;
      if (before && JSON.stringify(before.verdicts) !== JSON.stringify(after.verdicts)) throw new Error(`verdicts differ between builds: before ${JSON.stringify(before.verdicts)}, after ${JSON.stringify(after.verdicts)}`);
      for (const row of byBuild.values()) rows.push({ ...row, verdicts: row.verdicts! });
      rmSync(manifests, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

const range = (xs: readonly number[], digits = 0) => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi || lo.toFixed(digits) === hi.toFixed(digits) ? lo.toFixed(digits) : `${lo.toFixed(digits)}–${hi.toFixed(digits)}`;
};
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** The BENCHMARKS.md table: one row per count and build (min–max over repeats), after/before ratios of the medians. */
export function peersReviewTable(rows: readonly PeersReviewRow[]): string[] {
  const out = ['### governor review', '', '| objects | build | wall (ms) | CPU user+sys (ms) | peak RSS (MiB) | allowed / denied / mutated | after ÷ before (wall, CPU, RSS) |', '| ---: | --- | ---: | ---: | ---: | --- | --- |'];
  for (const r of rows) {
    const before = r.build === 'after' ? rows.find((x) => x.build === 'before' && x.objects === r.objects) : undefined;
    const ratio = before ? `${(median(r.wallMs) / median(before.wallMs)).toFixed(2)}, ${(median(r.cpuMs) / median(before.cpuMs)).toFixed(2)}, ${(median(r.peakRssMiB) / median(before.peakRssMiB)).toFixed(2)}` : '';
    out.push(`| ${r.objects.toLocaleString('en')} | ${r.build} | ${range(r.wallMs)} | ${range(r.cpuMs)} | ${range(r.peakRssMiB)} | ${r.verdicts.allowed} / ${r.verdicts.denied} / ${r.verdicts.mutated} | ${ratio} |`);
  }
  return [...out, ''];
}
