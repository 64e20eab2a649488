// Development-time agreement check (issue 13): the kyverno/policies cases about resources, labels and annotations,
// translated by `governor convert kyverno` (or by hand where convert refuses but the language can express them), run
// through the review engine, and compared with each policy's own kyverno-test.yaml expectations.
//
//   node --import tsx hack/kyverno-agreement.ts /path/to/kyverno-policies [--hand DIR] [--work DIR] [--json]
//
// --hand DIR: hand translations, DIR/<kyverno policy name>.yaml, GovernancePolicies annotated with
//             governor.io/kyverno-rule (they replace convert's output for that policy).
// --work DIR: where the translated policies are written (default: a fresh temp dir), to read or rerun.
// Their files are not part of this repository (licence and size): point it at a checkout.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { convertKyvernoPolicy, isKyvernoPolicy, KYVERNO_RULE_ANNOTATION, type GovernancePolicyDocument } from '../src/policy/kyverno.js';
import { GovernanceEngine } from '../src/governance/engine.js';
import { loadGovernancePolicies } from '../src/cli/review.js';
import type { Operation } from '../src/governance/types.js';

/** The policies in scope: best-practices, other and pod-security policies about resources, labels and annotations. */
export const IN_SCOPE = [
  'best-practices/require-labels',
  'best-practices/require-pod-requests-limits',
  'best-practices/add-safe-to-evict',
  'other/require-cpu-limits',
  'other/forbid-cpu-limits',
  'other/require-emptydir-requests-limits',
  'other/add-default-resources',
  'other/memory-requests-equal-limits',
  'other/enforce-resources-as-ratio',
  'other/require-qos-burstable',
  'other/require-qos-guaranteed',
  'other/check-nvidia-gpu',
  'other/require-annotations',
  'other/restrict-annotations',
  'other/allowed-annotations',
  'other/allowed-label-changes',
  'other/metadata-match-regex',
  'other/docker-socket-requires-label',
  'other/add-labels',
  'pod-security/baseline/restrict-apparmor-profiles',
];

type Outcome = 'pass' | 'fail' | 'skip';

export interface CaseResult {
  readonly rule: string;
  readonly resource: string;
  readonly expected: string;
  readonly got: string;
  readonly agree: boolean;
  readonly note?: string;
}

export interface PolicyRow {
  readonly dir: string;
  readonly source: 'convert' | 'hand' | 'refused' | 'no test';
  readonly refused: readonly string[];
  readonly loadError?: string;
  readonly cases: readonly CaseResult[];
}

function docs(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS({ maxAliasCount: 50 }))
    .filter((d) => d !== null && d !== undefined)
    .flatMap((d) => (d.kind === 'List' && Array.isArray(d.items) ? d.items : [d]));
}

const rec = (v: unknown): Record<string, any> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, any>) : {});

/** Kyverno names generated controller rules autogen-<rule> and autogen-cronjob-<rule>. */
const baseRule = (r: string) => r.replace(/^autogen-(cronjob-)?/, '');

function findResource(objects: unknown[], ref: string, kind: string | undefined): unknown {
  const [ns, name] = ref.includes('/') ? ref.split('/') : [undefined, ref];
  return objects.find((o) => {
    const m = rec(rec(o).metadata);
    return m.name === name && (ns === undefined || (m.namespace ?? 'default') === ns) && (kind === undefined || rec(o).kind === kind);
  });
}

/** Kyverno's test values: request.operation per resource, namespace labels (namespaceSelector). */
function valuesOf(file: string | undefined): { operations: Map<string, string>; namespaces: Map<string, Record<string, string>> } {
  const operations = new Map<string, string>();
  const namespaces = new Map<string, Record<string, string>>();
  if (!file || !existsSync(file)) return { operations, namespaces };
  for (const d of docs(file)) {
    for (const p of (rec(d).policies ?? []) as unknown[]) {
      for (const r of (rec(p).resources ?? []) as unknown[]) {
        const op = rec(rec(r).values)['request.operation'];
        if (typeof op === 'string') operations.set(String(rec(r).name), op);
      }
    }
    for (const n of (rec(d).namespaceSelector ?? []) as unknown[]) namespaces.set(String(rec(n).name), rec(rec(n).labels) as Record<string, string>);
  }
  return { operations, namespaces };
}

function normalize(o: unknown): unknown {
  return JSON.parse(JSON.stringify(o ?? null));
}

/** One policy directory (with kyverno-test.yaml in it or in .kyverno-test/): translate, review, compare. */
export async function checkPolicy(root: string, dir: string, hand: string | undefined, work: string): Promise<PolicyRow> {
  const base = join(root, dir);
  const testFile = [join(base, '.kyverno-test', 'kyverno-test.yaml'), join(base, 'kyverno-test.yaml')].find(existsSync);
  if (!testFile) return { dir, source: 'no test', refused: [], cases: [] };
  const test = rec(docs(testFile)[0]);
  const testDir = dirname(testFile);
  const kyverno = ((test.policies ?? []) as string[]).flatMap((p) => docs(resolve(testDir, p))).filter(isKyvernoPolicy);
  const objects = ((test.resources ?? []) as string[]).flatMap((r) => docs(resolve(testDir, r)));
  const values = valuesOf(test.variables ? resolve(testDir, test.variables as string) : undefined);
  const kinds = new Map<string, 'validate' | 'mutate'>();
  let policies: GovernancePolicyDocument[] = [];
  const refused: string[] = [];
  let source: PolicyRow['source'] = 'convert';
  for (const k of kyverno) {
    const name = String(rec(rec(k).metadata).name);
    for (const r of (rec(rec(k).spec).rules ?? []) as unknown[]) kinds.set(String(rec(r).name), rec(r).mutate ? 'mutate' : 'validate');
    const handFile = hand ? join(hand, `${name}.yaml`) : undefined;
    if (handFile && existsSync(handFile)) {
      source = 'hand';
      policies.push(...(docs(handFile) as GovernancePolicyDocument[]));
      continue;
    }
    const c = convertKyvernoPolicy(k);
    policies.push(...c.policies);
    refused.push(...c.refused.map((x) => `${x.rule}: ${x.reason}`));
  }
  if (policies.length === 0) source = 'refused';
  const outDir = join(work, dir.replace(/\//g, '_'));
  mkdirSync(outDir, { recursive: true });
  const byRule = new Map<string, { engine?: GovernanceEngine; error?: string; names: string[] }>();
  for (const p of policies) {
    const rule = rec(rec(p.metadata).annotations)[KYVERNO_RULE_ANNOTATION] as string;
    const file = join(outDir, `${p.metadata.name}.yaml`);
    writeFileSync(file, stringify(p, { lineWidth: 0 }));
    const entry = byRule.get(rule) ?? { names: [] };
    entry.names.push(file);
    byRule.set(rule, entry);
  }
  let loadError: string | undefined;
  for (const [, entry] of byRule) {
    try {
      entry.engine = new GovernanceEngine(await loadGovernancePolicies(entry.names));
    } catch (e) {
      entry.error = (e as Error).message.split('\n').slice(1, 3).join('; ').trim() || (e as Error).message;
      loadError ??= entry.error;
    }
  }
  const cases: CaseResult[] = [];
  for (const r of (test.results ?? []) as Record<string, any>[]) {
    const rule = baseRule(String(r.rule));
    const expected = String(r.result);
    const names: string[] = r.resources ?? (r.resource ? [r.resource] : []);
    const patchedFile = r.patchedResources ?? r.patchedResource;
    const patched = patchedFile ? docs(resolve(testDir, patchedFile)) : [];
    for (const ref of names) {
      const obj = findResource(objects, ref, r.kind);
      const entry = byRule.get(rule);
      const add = (got: string, note?: string, agree = got === expected) => cases.push({ rule: String(r.rule), resource: ref, expected, got, agree, ...(note ? { note } : {}) });
      if (!obj) {
        add('?', 'resource not found in the test files', false);
        continue;
      }
      if (!entry) {
        add('refused', refused.find((x) => x.startsWith(`${rule}:`)) ?? 'no translation', false);
        continue;
      }
      if (!entry.engine) {
        add('load error', entry.error, false);
        continue;
      }
      const m = rec(rec(obj).metadata);
      const namespace = typeof m.namespace === 'string' && m.namespace ? m.namespace : 'default';
      const operation = (values.operations.get(String(m.name)) ?? 'CREATE') as Operation;
      const nsLabels = values.namespaces.get(namespace);
      const out = entry.engine.review(obj, { namespace, operation, ...(nsLabels ? { namespaceInfo: { labels: nsLabels, annotations: {} } } : {}) });
      const summary = out.validation.policies;
      if (kinds.get(rule) === 'mutate') {
        const changed = out.mutation.patch.length > 0;
        const got: Outcome = changed ? 'pass' : 'skip';
        if (got === 'pass' && expected === 'pass' && patched.length) {
          const want = findResource(patched, String(m.name), undefined) ?? patched[0];
          const same = isDeepStrictEqual(normalize(out.mutation.mutated), normalize(want));
          add(same ? 'pass' : 'pass (different object)', same ? undefined : `mutated: ${JSON.stringify(rec(out.mutation.mutated).metadata)} / ${JSON.stringify(rec(rec(out.mutation.mutated).spec).containers?.map((c: any) => c.resources))}`, same);
        } else add(got);
        continue;
      }
      const matched = summary.length > 0;
      const failed = out.validation.results.some((x) => x.status === 'fail' || x.status === 'error');
      // skip: no policy matched, or every rule was skipped (a `when` that did not hold, an exception).
      const got: Outcome = failed ? 'fail' : !matched || summary.every((x) => x.result === 'skip') ? 'skip' : 'pass';
      if (out.validation.skipped === 'namespace' && got !== expected) {
        add(got, `${namespace} is never evaluated (lock-out protection)`);
        continue;
      }
      // Kyverno's skip (a condition did not hold) admits the object like a pass: counted as agreement, noted.
      if (expected === 'skip' && got === 'pass') add(got, 'skip ≈ pass (admitted; the engine reports no skip here)', true);
      else add(got, failed && got !== expected ? out.validation.results.map((x) => `${x.path} ${x.message}`).join('; ') : undefined);
    }
  }
  return { dir, source, refused, ...(loadError ? { loadError } : {}), cases };
}

/** How many rules of every policy in the three folders convert translates (a measure of coverage beyond the cases). */
function coverage(root: string): { policies: number; rules: number; converted: number; byReason: Map<string, number> } {
  const byReason = new Map<string, number>();
  let policies = 0;
  let rules = 0;
  let converted = 0;
  const walk = (d: string): string[] => {
    const out: string[] = [];
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) out.push(...walk(p));
      else if (/\.ya?ml$/.test(e.name) && e.name !== 'artifacthub-pkg.yml') out.push(p);
    }
    return out;
  };
  for (const folder of ['best-practices', 'other', 'pod-security']) {
    if (!existsSync(join(root, folder))) continue;
    for (const f of walk(join(root, folder))) {
      let ds: unknown[];
      try {
        ds = docs(f);
      } catch {
        continue;
      }
      for (const d of ds.filter(isKyvernoPolicy)) {
        policies++;
        try {
          const c = convertKyvernoPolicy(d);
          rules += c.policies.length + c.refused.length;
          converted += c.policies.length;
          for (const r of c.refused) {
            const key = r.reason.replace(/"[^"]*"/g, '"…"').replace(/^[^:]*(pattern|match|mutate|validate|preconditions)[^:]*: /, '$1…: ').slice(0, 90);
            byReason.set(key, (byReason.get(key) ?? 0) + 1);
          }
        } catch {
          // an unreadable document is not a rule
        }
      }
    }
  }
  return { policies, rules, converted, byReason };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (n: string) => {
    const i = args.indexOf(n);
    if (i < 0) return undefined;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const hand = flag('--hand');
  const work = flag('--work') ?? mkdtempSync(join(tmpdir(), 'kyverno-agreement-'));
  const json = args.includes('--json');
  const root = args.find((a) => !a.startsWith('--'));
  if (!root || !existsSync(root)) {
    process.stderr.write('usage: node --import tsx hack/kyverno-agreement.ts KYVERNO_POLICIES_CHECKOUT [--hand DIR] [--work DIR] [--json]\n');
    process.exit(2);
  }
  const rows: PolicyRow[] = [];
  for (const dir of IN_SCOPE) rows.push(await checkPolicy(root, dir, hand, work));
  const cov = coverage(root);
  if (json) {
    process.stdout.write(`${JSON.stringify({ rows, coverage: { ...cov, byReason: Object.fromEntries(cov.byReason) } }, null, 2)}\n`);
    return;
  }
  const lines = ['| policy | translation | agree | cases | differences |', '| --- | --- | --- | --- | --- |'];
  let agree = 0;
  let total = 0;
  let fully = 0;
  for (const r of rows) {
    const a = r.cases.filter((c) => c.agree).length;
    agree += a;
    total += r.cases.length;
    if (r.cases.length && a === r.cases.length) fully++;
    const diffs = r.cases.filter((c) => !c.agree).map((c) => `${c.resource} (${c.rule}): expected ${c.expected}, got ${c.got}${c.note ? ` — ${c.note.slice(0, 160)}` : ''}`);
    const why = r.source === 'refused' ? r.refused.join('; ').slice(0, 200) : r.loadError ? `not loadable: ${r.loadError.slice(0, 200)}` : diffs.slice(0, 3).join('<br>') + (diffs.length > 3 ? ` … ${diffs.length - 3} more` : '');
    lines.push(`| ${r.dir} | ${r.source} | ${a}/${r.cases.length} | ${r.cases.length} | ${why.replace(/\|/g, '\\|')} |`);
  }
  lines.push('', `${fully}/${rows.length} policies agree on every case; ${agree}/${total} cases agree. Translated policies: ${work}`);
  lines.push('', `convert over every policy in best-practices, other, pod-security: ${cov.converted}/${cov.rules} rules of ${cov.policies} policies translated; refusals by reason:`);
  for (const [k, n] of [...cov.byReason].sort((x, y) => y[1] - x[1]).slice(0, 15)) lines.push(`  ${String(n).padStart(4)}  ${k}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

// Run as a script; imported by test/kyverno_agreement_test.ts for checkPolicy.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
