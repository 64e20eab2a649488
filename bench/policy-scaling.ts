// Bench 2: how review cost grows with the number of GovernancePolicies when only one matches (the engine in-process:
// mutate, then validate the mutated object, as the API server calls the two webhooks), and the offline
// `governor review` CLI on 10,000 manifests against a baseline that only reads, parses and re-serialises the YAML.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { GovernanceEngine } from '../src/governance/engine.js';
import { policy } from '../src/governance/testing.js';
import type { GovernancePolicy } from '../src/policy/governance-policy.js';
import { realisticDeployment, sampleNamespaces, samplePolicies } from '../test/integration/webhook_fixtures.js';
import { quantile } from './lib/stats.js';

export interface ScalingRow {
  /** How the policies that do not match are written. */
  readonly noise: 'namespaces' | 'namespaceSelector';
  readonly policies: number;
  readonly matching: number;
  readonly p50us: number;
  readonly p99us: number;
}

export interface ReviewCliResult {
  readonly manifests: number;
  readonly cliWallS: number;
  readonly objectsPerS: number;
  readonly yamlBaselineS: number;
  readonly exitCode: number | null;
}

/** Policies that never match the bench's Deployment in namespace shop. */
function noise(n: number, how: ScalingRow['noise']): GovernancePolicy[] {
  return Array.from({ length: n }, (_, i) =>
    how === 'namespaces'
      ? policy(`noise-${String(i).padStart(4, '0')}`, `  match: {kinds: [Deployment, StatefulSet], namespaces: [team-${i}]}\n  labels: {owner: {required: true}}\n  resources: {require: [limits.memory]}`)
      : policy(`noise-${String(i).padStart(4, '0')}`, `  match: {kinds: [Deployment, StatefulSet], namespaceSelector: {matchLabels: {team: team-${i}}}}\n  labels: {owner: {required: true}}\n  resources: {require: [limits.memory]}`),
  );
}

function measure(engine: GovernanceEngine, iterations: number): { p50us: number; p99us: number } {
  const dep = realisticDeployment('shop');
  const ctx = { namespace: 'shop', kind: 'Deployment', group: 'apps', operation: 'CREATE' as const, namespaceInfo: sampleNamespaces().get('shop')! };
  const once = () => engine.validate(engine.mutate(dep, ctx).mutated, ctx);
  for (let i = 0; i < 500; i++) once();
  const lat = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    once();
    lat[i] = Number(process.hrtime.bigint() - t0) / 1e3;
  }
  lat.sort();
  return { p50us: quantile(lat, 0.5), p99us: quantile(lat, 0.99) };
}

export function benchPolicyScaling(o: { counts: readonly number[]; iterations: number; log: (s: string) => void }): ScalingRow[] {
  const teamDefaults = samplePolicies().find((p) => p.name === 'team-defaults')!;
  const rows: ScalingRow[] = [];
  for (const how of ['namespaces', 'namespaceSelector'] as const) {
    for (const n of o.counts) {
      const engine = new GovernanceEngine([teamDefaults, ...noise(n - 1, how)], { skipNamespaces: ['kube-system'] });
      const r = measure(engine, o.iterations);
      rows.push({ noise: how, policies: n, matching: 1, ...r });
      o.log(`  ${String(n).padStart(5)} policies (1 matches; the rest by ${how}): mutate+validate p50 ${r.p50us.toFixed(1)} µs, p99 ${r.p99us.toFixed(1)} µs`);
    }
  }
  return rows;
}

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const POLICIES = fileURLToPath(new URL('../policies/governance/', import.meta.url));

export async function benchReviewCli(o: { manifests: number; log: (s: string) => void }): Promise<ReviewCliResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-review-'));
  try {
    const perFile = 100;
    const nsDoc = stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: sampleNamespaces().get('shop')!.labels, annotations: { 'cost-center': 'CC-1001' } } });
    mkdirSync(join(dir, 'm'));
    writeFileSync(join(dir, 'm', '000-namespace.yaml'), nsDoc);
    for (let f = 0; f * perFile < o.manifests; f++) {
      const docs = Array.from({ length: Math.min(perFile, o.manifests - f * perFile) }, (_, k) => stringify(realisticDeployment('shop', `svc-${f * perFile + k}`)));
      writeFileSync(join(dir, 'm', `${String(f).padStart(3, '0')}-deployments.yaml`), docs.join('---\n'));
    }
    // Baseline: what any offline tool does with these files: read, parse every document, write it back out.
    const t0 = performance.now();
    let out = 0;
    for (const f of readdirSync(join(dir, 'm')).sort()) {
      for (const d of parseAllDocuments(readFileSync(join(dir, 'm', f), 'utf8')) as ReturnType<typeof parseAllDocuments> & unknown[]) out += stringify((d as { toJS(): unknown }).toJS(), { lineWidth: 0 }).length;
    }
    const yamlBaselineS = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const exitCode = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'review', '--policies', POLICIES, join(dir, 'm')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c) => (err = (err + String(c)).slice(-2000)));
      const kill = setTimeout(() => child.kill('SIGKILL'), 300_000);
      child.on('exit', (code) => {
        clearTimeout(kill);
        o.log(`  governor review: ${err.trim().split('\n').at(-1)}`);
        resolve(code);
      });
    });
    const cliWallS = (performance.now() - t1) / 1000;
    const r = { manifests: o.manifests, cliWallS, objectsPerS: (o.manifests + 1) / cliWallS, yamlBaselineS, exitCode };
    o.log(`  governor review on ${o.manifests} Deployments: ${cliWallS.toFixed(1)} s (${r.objectsPerS.toFixed(0)} objects/s, process start included); YAML read+parse+write alone ${yamlBaselineS.toFixed(1)} s (${out} bytes)`);
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
