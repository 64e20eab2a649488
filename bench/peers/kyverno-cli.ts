// Peer bench: `governor review` against the Kyverno CLI (`kyverno apply`, built from its Go module by
// hack/build-kyverno.sh) on the same seeded Deployments with equivalent policies (bench/peers/kyverno/: three
// ClusterPolicies; bench/peers/review-policies.yaml: the same rules as GovernancePolicies). Each tool runs as one process,
// measured the same way (wall time, user+system CPU and peak RSS from wait4), alternating which goes first; a floor
// process that only reads, parses and re-serialises the same YAML in Node is measured beside them. The verdicts of
// both must agree: the denied objects are compared by namespace/name, and any difference is listed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureProcess, REVIEW_POLICIES, ROOT, runGovernorReview, writeDeployments, type ProcessCost } from './review.js';

export const KYVERNO_POLICIES = join(ROOT, 'bench', 'peers', 'kyverno');
/** The same rules as GovernancePolicies: the `governor review` peer bench's. */
export const GOVERNOR_POLICIES = REVIEW_POLICIES;
const FLOOR = join(ROOT, 'bench', 'peers', 'yaml-floor.mjs');

export type CliTool = 'governor' | 'kyverno' | 'yaml-floor';

export interface CliRun extends ProcessCost {
  readonly tool: CliTool;
  readonly objects: number;
  readonly repeat: number;
  /** Objects denied (the floor denies nothing). */
  readonly denied: number;
}

export interface CliVerdicts {
  readonly objects: number;
  readonly governorDenied: number;
  readonly kyvernoDenied: number;
  /** namespace/name denied by one tool only. */
  readonly onlyGovernor: string[];
  readonly onlyKyverno: string[];
}

export interface KyvernoCliResult {
  readonly kyvernoVersion: string;
  readonly runs: CliRun[];
  readonly verdicts: CliVerdicts[];
}

/** Runs a script to completion; the last stdout line of hack/build-*.sh names the directory. */
function runScript(cmd: string, args: string[], log: (s: string) => void, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += String(c)));
    child.stderr.on('data', (c) => {
      err = (err + String(c)).slice(-8000);
      for (const line of String(c).trimEnd().split('\n')) log(`    ${line}`);
    });
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(kill);
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${err}`));
    });
  });
}

/** hack/build-kyverno.sh (cached after the first build; the first takes many minutes on 2 cores). */
export async function kyvernoDir(log: (s: string) => void): Promise<string> {
  const out = await runScript('bash', [join(ROOT, 'hack', 'build-kyverno.sh')], log, 60 * 60_000);
  const dir = /^KYVERNO_DIR=(.+)$/m.exec(out)?.[1];
  if (!dir) throw new Error(`hack/build-kyverno.sh printed no KYVERNO_DIR=: ${out}`);
  return dir.trim();
}

/** `npm run build`: the benches run the package's bin (dist/bundle/cli.js), what users run. */
export async function buildDist(log: (s: string) => void): Promise<void> {
  log('  building dist/ (npm run build)');
  await runScript('npm', ['run', '--silent', 'build'], log, 10 * 60_000);
}

/**
 * The denied objects in `kyverno apply` output: one "policy P -> resource ns/Kind/name failed:" line per failed
 * policy and resource (several per object when several policies fail).
 */
export function kyvernoDenied(output: string): Set<string> {
  const denied = new Set<string>();
  for (const m of output.matchAll(/^policy \S+ -> resource (\S*)\/[^/\s]+\/(\S+) failed:$/gm)) denied.add(`${m[1]}/${m[2]}`);
  return denied;
}

async function runKyverno(bin: string, manifests: string, workDir: string): Promise<ProcessCost & { denied: Set<string>; stdout: string }> {
  const stdoutFile = join(workDir, 'kyverno-apply.txt');
  // --remove-color: plain lines to parse. Exit 1 when a resource fails a policy (like governor review).
  const cost = await measureProcess(bin, ['apply', KYVERNO_POLICIES, '--resource', manifests, '--remove-color'], { stdoutFile });
  const stdout = readFileSync(stdoutFile, 'utf8');
  if (cost.exitCode !== 0 && cost.exitCode !== 1) throw new Error(`kyverno apply exited with ${cost.exitCode}:\n${cost.stderr}\n${stdout.slice(-2000)}`);
  if (!/^pass: \d+, fail: \d+/m.test(stdout)) throw new Error(`kyverno apply printed no result counts:\n${stdout.slice(-2000)}\n${cost.stderr}`);
  return { ...cost, denied: kyvernoDenied(stdout), stdout };
}

export async function benchKyvernoCli(o: { sizes: readonly number[]; repeats: number; seed?: number; build?: boolean; kyvernoDir?: string; log: (s: string) => void }): Promise<KyvernoCliResult> {
  const dir = o.kyvernoDir ?? (await kyvernoDir(o.log));
  const kyverno = join(dir, 'kyverno');
  if (o.build !== false) await buildDist(o.log);
  const version = await new Promise<string>((resolve) => {
    const c = spawn(kyverno, ['version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    c.stdout.on('data', (d) => (s += String(d)));
    c.once('exit', () => resolve(/Version:\s*(\S+)/.exec(s)?.[1] ?? s.trim().split('\n')[0] ?? '?'));
  });
  o.log(`  Kyverno CLI ${version} (${kyverno}); governor from dist/bundle/cli.js`);
  const work = mkdtempSync(join(tmpdir(), 'kg-peers-kyverno-'));
  const runs: CliRun[] = [];
  const verdicts: CliVerdicts[] = [];
  try {
    for (const n of o.sizes) {
      const manifests = join(work, `m${n}`);
      writeDeployments(manifests, n, o.seed ?? 16);
      for (let r = 0; r < o.repeats; r++) {
        // Alternate which tool goes first, so neither always runs on a warmer page cache or a quieter machine.
        const order: CliTool[] = r % 2 === 0 ? ['kyverno', 'governor', 'yaml-floor'] : ['governor', 'kyverno', 'yaml-floor'];
        let gov: Awaited<ReturnType<typeof runGovernorReview>> | undefined;
        let kyv: Awaited<ReturnType<typeof runKyverno>> | undefined;
        for (const tool of order) {
          if (tool === 'governor') {
            gov = await runGovernorReview({ objects: manifests, policiesDir: GOVERNOR_POLICIES, workDir: work });
            runs.push({ tool, objects: n, repeat: r, wallS: gov.wallS, userS: gov.userS, sysS: gov.sysS, peakRssMiB: gov.peakRssMiB, exitCode: gov.exitCode, denied: gov.denied });
          } else if (tool === 'kyverno') {
            kyv = await runKyverno(kyverno, manifests, work);
            runs.push({ tool, objects: n, repeat: r, wallS: kyv.wallS, userS: kyv.userS, sysS: kyv.sysS, peakRssMiB: kyv.peakRssMiB, exitCode: kyv.exitCode, denied: kyv.denied.size });
          } else {
            const f = await measureProcess(process.execPath, [FLOOR, manifests], { stdoutFile: join(work, 'floor.txt') });
            if (f.exitCode !== 0) throw new Error(`yaml floor exited with ${f.exitCode}: ${f.stderr}`);
            runs.push({ tool, objects: n, repeat: r, wallS: f.wallS, userS: f.userS, sysS: f.sysS, peakRssMiB: f.peakRssMiB, exitCode: f.exitCode, denied: 0 });
          }
          const x = runs.at(-1)!;
          o.log(`  ${String(n).padStart(6)} objects, ${tool.padEnd(10)} wall ${x.wallS.toFixed(2)} s, CPU ${(x.userS + x.sysS).toFixed(2)} s, peak RSS ${x.peakRssMiB.toFixed(0)} MiB, denied ${x.denied}`);
        }
        if (r === 0 && gov && kyv) {
          const g = new Set(gov.deniedNames);
          const v: CliVerdicts = {
            objects: n,
            governorDenied: g.size,
            kyvernoDenied: kyv.denied.size,
            onlyGovernor: [...g].filter((x) => !kyv!.denied.has(x)).sort(),
            onlyKyverno: [...kyv.denied].filter((x) => !g.has(x)).sort(),
          };
          verdicts.push(v);
          o.log(`  ${String(n).padStart(6)} objects: denied by governor ${v.governorDenied}, by Kyverno ${v.kyvernoDenied}; only governor ${v.onlyGovernor.length}, only Kyverno ${v.onlyKyverno.length}${v.onlyGovernor.length + v.onlyKyverno.length ? ` (${[...v.onlyGovernor, ...v.onlyKyverno].slice(0, 5).join(', ')})` : ''}`);
        }
      }
      rmSync(manifests, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { kyvernoVersion: version, runs, verdicts };
}

const fmt = (xs: number[], d = 2) => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo.toFixed(d) === hi.toFixed(d) ? lo.toFixed(d) : `${lo.toFixed(d)}–${hi.toFixed(d)}`;
};

/** Markdown: one row per size and tool, ranges over repeats, ratios to Kyverno and to the floor of the same repeat. */
export function kyvernoCliTable(r: KyvernoCliResult): string[] {
  const md = [
    `### Peers: \`governor review\` vs Kyverno CLI ${r.kyvernoVersion} (\`kyverno apply\`)`,
    '',
    '| objects | tool | wall s | CPU s (user+sys) | peak RSS MiB | ms per object (wall) | wall ratio to Kyverno | wall ratio to floor | denied |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const sizes = [...new Set(r.runs.map((x) => x.objects))];
  for (const n of sizes) {
    const same = (t: CliTool, rep: number) => r.runs.find((x) => x.tool === t && x.objects === n && x.repeat === rep)!;
    for (const tool of ['governor', 'kyverno', 'yaml-floor'] as const) {
      const xs = r.runs.filter((x) => x.tool === tool && x.objects === n);
      if (!xs.length) continue;
      const toK = xs.map((x) => x.wallS / same('kyverno', x.repeat).wallS);
      const toF = xs.map((x) => x.wallS / same('yaml-floor', x.repeat).wallS);
      md.push(`| ${n} | ${tool} | ${fmt(xs.map((x) => x.wallS))} | ${fmt(xs.map((x) => x.userS + x.sysS))} | ${fmt(xs.map((x) => x.peakRssMiB), 0)} | ${fmt(xs.map((x) => (x.wallS * 1000) / n), 2)} | ${fmt(toK)} | ${fmt(toF)} | ${tool === 'yaml-floor' ? '–' : fmt(xs.map((x) => x.denied), 0)} |`);
    }
  }
  md.push('', 'Verdicts (first repeat):', '');
  for (const v of r.verdicts) {
    const diff = v.onlyGovernor.length + v.onlyKyverno.length;
    md.push(`- ${v.objects} objects: governor denied ${v.governorDenied}, Kyverno ${v.kyvernoDenied}: ${diff === 0 ? 'the same objects' : `${diff} differ (only governor: ${v.onlyGovernor.slice(0, 10).join(', ') || 'none'}; only Kyverno: ${v.onlyKyverno.slice(0, 10).join(', ') || 'none'})`}.`);
  }
  md.push('');
  return md;
}
