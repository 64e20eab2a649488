// `governor test`: table-driven GovernancePolicy tests written beside the policies (like `kyverno test`), run by the same engine.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { reviewNamespace } from '../policy/kinds.js';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { GovernanceEngine, skippedNamespaces } from '../governance/engine.js';
import { formatViolation, type RuleResult } from '../governance/result.js';
import { isRecord } from '../governance/json-patch.js';
import type { Operation } from '../governance/types.js';
import { inputFiles, loadGovernancePolicies, ReviewUsageError } from './review.js';
import { formatData, outputOption } from './conventions.js';
import { compilePattern } from '../common/pattern.js';

export const TEST_KIND = 'GovernanceTest';

/** The schema of a test suite document (strict: unknown fields are errors). */
const ref = { type: 'string', minLength: 1 };
const SUITE_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'policies', 'cases'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'governor.io/v1alpha1' },
    kind: { const: TEST_KIND },
    metadata: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
    policies: { type: 'array', minItems: 1, items: { type: 'string' } },
    namespaces: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: { labels: { type: 'object', additionalProperties: { type: 'string' } }, annotations: { type: 'object', additionalProperties: { type: 'string' } } },
      },
    },
    migrationSources: {
      type: 'array',
      items: {
        type: 'object',
        required: ['namespace', 'kind', 'name', 'migration'],
        additionalProperties: false,
        properties: { namespace: { type: 'string' }, kind: { type: 'string' }, name: { type: 'string' }, migration: { type: 'string' } },
      },
    },
    cases: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'expect'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1 },
          operation: { enum: ['CREATE', 'UPDATE', 'DELETE'] },
          namespace: { type: 'string' },
          resource: { type: 'object' },
          oldResource: { type: 'object' },
          expect: {
            type: 'object',
            additionalProperties: false,
            properties: {
              allowed: { type: 'boolean' },
              patched: { type: 'boolean' },
              violations: { type: 'array', items: ref },
              warnings: { type: 'array', items: ref },
              exceptions: { type: 'array', items: ref },
              skipped: { type: 'array', items: ref },
              messages: { type: 'array', items: { type: 'string' } },
              object: { type: 'object' },
            },
          },
        },
      },
    },
  },
} as const;

interface Suite {
  metadata: { name: string };
  policies: string[];
  namespaces?: Record<string, { labels?: Record<string, string>; annotations?: Record<string, string> }>;
  migrationSources?: { namespace: string; kind: string; name: string; migration: string }[];
  cases: TestCase[];
}
interface TestCase {
  name: string;
  operation?: Exclude<Operation, 'CONNECT'>;
  namespace?: string;
  resource?: Record<string, unknown>;
  oldResource?: Record<string, unknown>;
  expect: {
    allowed?: boolean;
    patched?: boolean;
    violations?: string[];
    warnings?: string[];
    exceptions?: string[];
    /** Rules skipped because their `when` condition does not hold. */
    skipped?: string[];
    messages?: string[];
    object?: Record<string, unknown>;
  };
}

let validateSuite: ReturnType<Ajv['compile']> | undefined;

/** `subset` holds inside `actual`: maps by key, arrays element-wise with the same length, scalars equal. Returns the first mismatch. */
export function subsetMismatch(subset: unknown, actual: unknown, path = ''): string | undefined {
  if (Array.isArray(subset)) {
    if (!Array.isArray(actual)) return `${path || '.'}: expected a list, got ${JSON.stringify(actual)}`;
    if (actual.length !== subset.length) return `${path}: expected ${subset.length} item(s), got ${actual.length}`;
    for (let i = 0; i < subset.length; i++) {
      const m = subsetMismatch(subset[i], actual[i], `${path}[${i}]`);
      if (m) return m;
    }
    return undefined;
  }
  if (isRecord(subset)) {
    if (!isRecord(actual)) return `${path || '.'}: expected a map, got ${JSON.stringify(actual)}`;
    for (const [k, v] of Object.entries(subset)) {
      const m = subsetMismatch(v, actual[k], path ? `${path}.${k}` : k);
      if (m) return m;
    }
    return undefined;
  }
  return subset === actual || (subset === null && actual === undefined) ? undefined : `${path}: expected ${JSON.stringify(subset)}, got ${JSON.stringify(actual)}`;
}

const key = (r: RuleResult) => `${r.policy}/${r.rule}`;
/** "rule" matches any policy; "policy/rule" matches exactly. */
const refMatches = (ref: string, r: RuleResult) => (ref.includes('/') ? ref === key(r) : ref === r.rule);

/** What the engine decided for a case (--detailed-results, -o json). */
export interface CaseOutcome {
  readonly allowed: boolean;
  readonly patched: boolean;
  readonly violations: readonly string[];
  readonly warnings: readonly string[];
  readonly exceptions: readonly string[];
  /** Rules skipped because a `when` does not hold: "policy/rule: skipped: spec.when does not hold (…)". */
  readonly skipped: readonly string[];
}

function checkCase(engine: GovernanceEngine, suite: Suite, c: TestCase): { problems: string[]; outcome?: CaseOutcome } {
  const problems: string[] = [];
  const op = c.operation ?? 'CREATE';
  const obj = op === 'DELETE' ? c.oldResource : c.resource;
  if (!obj) return { problems: [`${op === 'DELETE' ? 'oldResource' : 'resource'} is required for ${op}`] };
  const namespace = c.namespace ?? reviewNamespace(obj, 'default');
  const ns = suite.namespaces?.[namespace];
  const ctx = {
    namespace,
    operation: op,
    ...(ns ? { namespaceInfo: { labels: ns.labels ?? {}, annotations: ns.annotations ?? {} } } : {}),
    ...(c.oldResource ? { oldObject: c.oldResource } : {}),
  };
  const r = op === 'DELETE' ? { mutation: { patch: [], mutated: obj }, validation: engine.validate(null, { ...ctx, oldObject: c.oldResource }) } : engine.review(c.resource, ctx);
  const d = r.validation.decision;
  const e = c.expect;
  const show = (rs: readonly RuleResult[]) => (rs.length ? rs.map((x) => `\n        ${formatViolation(x)}`).join('') : ' none');
  if (e.allowed !== undefined && d.allowed !== e.allowed) problems.push(`expected ${e.allowed ? 'allowed' : 'denied'}, got ${d.allowed ? 'allowed' : 'denied'}; violations:${show(d.denials)}`);
  if (e.patched !== undefined && (r.mutation.patch.length > 0) !== e.patched) {
    problems.push(`expected ${e.patched ? 'a patch' : 'no patch'}, got ${r.mutation.patch.length ? JSON.stringify(r.mutation.patch) : 'none'}`);
  }
  if (e.violations) {
    const got = [...new Set(d.denials.map(key))];
    const missing = e.violations.filter((v) => !d.denials.some((x) => refMatches(v, x)));
    const extra = got.filter((g) => !e.violations!.some((v) => refMatches(v, d.denials.find((x) => key(x) === g)!)));
    if (missing.length || extra.length) problems.push(`violations differ: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unexpected ${extra.join(', ')}` : ''}; got:${show(d.denials)}`);
  }
  const skipped = r.validation.results.filter((x) => x.status === 'skip' && x.condition !== undefined);
  for (const [field, list] of [
    ['warnings', d.warnings],
    ['exceptions', d.exceptions],
    ['skipped', skipped],
  ] as const) {
    for (const v of e[field] ?? []) if (!list.some((x) => refMatches(v, x))) problems.push(`expected ${field} to include ${v}; got:${show(list)}`);
  }
  const message = d.denials.map(formatViolation).join('\n');
  for (const m of e.messages ?? []) if (!message.includes(m)) problems.push(`expected the denial message to contain ${JSON.stringify(m)}; got:${show(d.denials)}`);
  if (e.object) {
    const m = subsetMismatch(e.object, r.mutation.mutated);
    if (m) problems.push(`mutated object: ${m}`);
  }
  const outcome: CaseOutcome = {
    allowed: d.allowed,
    patched: r.mutation.patch.length > 0,
    violations: d.denials.map(formatViolation),
    warnings: d.warnings.map(formatViolation),
    exceptions: d.exceptions.map((x) => `${x.policy}/${x.rule} (${x.exception!.via}): ${x.exception!.reason}`),
    skipped: skipped.map((x) => `${x.policy}/${x.rule}${x.path ? ` ${x.path}` : ''}: ${x.message}`),
  };
  return { problems, outcome };
}

/**
 * --run: which cases run, as `go test -run`: a regular expression, or two separated by "/": the first matches the suite
 * name (metadata.name), the second the case name. Without "/", a case runs when its name or its suite's name matches.
 */
export function caseFilter(run: string | undefined): (suite: string, testCase: string) => boolean {
  if (run === undefined || run === '') return () => true;
  const i = run.indexOf('/');
  // The linear-time engine of policy patterns (RE2 syntax, as `go test -run`).
  const compile = (p: string) => {
    try {
      return compilePattern(p);
    } catch (e) {
      throw new ReviewUsageError(`--run "${run}": ${(e as Error).message}`);
    }
  };
  if (i < 0) {
    const re = compile(run);
    return (suite, testCase) => re.test(testCase) || re.test(suite);
  }
  const suiteRe = compile(run.slice(0, i));
  const caseRe = compile(run.slice(i + 1));
  return (suite, testCase) => suiteRe.test(suite) && caseRe.test(testCase);
}

export interface TestRunResult {
  readonly passed: number;
  readonly failed: number;
  readonly suites: number;
  /** Cases --run left out. */
  readonly skipped: number;
  /** Every suite and case run, for -o json|yaml. */
  readonly report: readonly SuiteReport[];
}

export interface SuiteReport {
  readonly file: string;
  readonly name: string;
  readonly policies: number;
  readonly cases: readonly { readonly name: string; readonly passed: boolean; readonly problems: readonly string[]; readonly outcome?: CaseOutcome }[];
}

export interface TestOptions {
  /** --run: see caseFilter. */
  readonly run?: string;
  /** --detailed-results: the engine's decision under every case, passed ones too. */
  readonly detailedResults?: boolean;
  /** -o: text (default), json or yaml. */
  readonly output?: 'text' | 'json' | 'yaml';
}

function detail(o: CaseOutcome | undefined): string {
  if (!o) return '';
  const lines = [`result: ${o.allowed ? 'allowed' : 'denied'}, ${o.patched ? 'patched' : 'not patched'}`];
  for (const v of o.violations) lines.push(`violation: ${v}`);
  for (const w of o.warnings) lines.push(`warning: ${w}`);
  for (const x of o.exceptions) lines.push(`exception: ${x}`);
  return lines.map((l) => `      ${l}\n`).join('');
}

/** Runs every GovernanceTest document under the paths; other YAML documents are ignored. */
export async function runGovernanceTests(paths: readonly string[], out: NodeJS.WritableStream, o: TestOptions = {}): Promise<TestRunResult> {
  validateSuite ??= new Ajv({ allErrors: true, strict: false }).compile(SUITE_SCHEMA);
  const selected = caseFilter(o.run);
  let passed = 0;
  let failed = 0;
  let suites = 0;
  let skipped = 0;
  const report: SuiteReport[] = [];
  for (const file of await inputFiles(paths, /\.ya?ml$/i)) {
    const docs = parseAllDocuments(await readFile(file, 'utf8'));
    if (!Array.isArray(docs)) continue;
    for (const [i, doc] of docs.entries()) {
      const obj = doc.errors.length ? undefined : doc.toJS({ maxAliasCount: 100 });
      if (doc.errors.length) throw new ReviewUsageError(`${file} (document ${i + 1}): YAML syntax: ${doc.errors[0]!.message.split('\n')[0]}`);
      if (!isRecord(obj) || obj.kind !== TEST_KIND) continue;
      if (!validateSuite(obj)) {
        const errs = (validateSuite.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${(e.params as any).additionalProperty})` : ''}`);
        throw new ReviewUsageError(`${file} (document ${i + 1}): not a valid ${TEST_KIND}:\n  ${errs.join('\n  ')}`);
      }
      const suite = obj as unknown as Suite;
      suites++;
      const policies = await loadGovernancePolicies(suite.policies.map((p) => resolve(dirname(file), p)));
      const sources = new Map((suite.migrationSources ?? []).map((s) => [`${s.namespace}/${s.kind}/${s.name}`, s.migration]));
      const engine = new GovernanceEngine(policies, { skipNamespaces: skippedNamespaces(), activeMigrationSource: (ns, kind, name) => sources.get(`${ns}/${kind}/${name}`) });
      const cases = suite.cases.filter((c) => selected(suite.metadata.name, c.name));
      skipped += suite.cases.length - cases.length;
      if (!cases.length) continue;
      out.write(`${file} (${TEST_KIND} ${suite.metadata.name}, ${policies.length} policies)\n`);
      const results: SuiteReport['cases'][number][] = [];
      for (const c of cases) {
        const { problems, outcome } = checkCase(engine, suite, c);
        results.push({ name: c.name, passed: !problems.length, problems, ...(outcome ? { outcome } : {}) });
        if (problems.length) {
          failed++;
          out.write(`  FAIL ${c.name}\n${problems.map((p) => `      ${p}\n`).join('')}${o.detailedResults ? detail(outcome) : ''}`);
        } else {
          passed++;
          out.write(`  PASS ${c.name}\n${o.detailedResults ? detail(outcome) : ''}`);
        }
      }
      report.push({ file, name: suite.metadata.name, policies: policies.length, cases: results });
    }
  }
  return { passed, failed, suites, skipped, report };
}

const discard = new Writable({ write: (_c, _e, cb) => cb() });

export async function governorTest(paths: readonly string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream, o: TestOptions = {}): Promise<number> {
  try {
    const structured = o.output === 'json' || o.output === 'yaml' ? o.output : undefined;
    const r = await runGovernanceTests(paths, structured ? discard : out, o);
    if (!r.suites) {
      err.write(`no ${TEST_KIND} documents found in ${paths.join(', ')}\n`);
      return 1;
    }
    const ran = r.passed + r.failed;
    if (structured) {
      out.write(formatData(structured, { apiVersion: 'governor.io/v1alpha1', kind: 'GovernanceTestReport', passed: r.passed, failed: r.failed, skipped: r.skipped, suites: r.report }));
    } else out.write(`${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''} (${r.suites} suite(s))\n`);
    if (!ran) {
      // A --run that matches nothing must not pass silently in CI.
      err.write(`no test case matches --run ${JSON.stringify(o.run)}\n`);
      return 1;
    }
    return r.failed ? 1 : 0;
  } catch (e) {
    if (!(e instanceof ReviewUsageError)) throw e;
    err.write(`governor test: ${e.message}\n`);
    return 2;
  }
}

export function registerTest(program: Command): void {
  program
    .command('test')
    .description(`run ${TEST_KIND} suites (resource + expected allowed/denied/patched) against their policies; exit code 1 on failure`)
    .argument('<paths...>', 'test files or directories')
    .option('--run <regexp>', 'run only the cases that match, like go test -run: "case", or "suite/case" (suite: metadata.name); regular expressions')
    .option('--detailed-results', "print the engine's decision (allowed or denied, patched, violations, warnings, exceptions) under every case, passed ones too")
    .addOption(outputOption(['text', 'json', 'yaml'], 'text', 'json and yaml: a GovernanceTestReport with every case, its problems and the decision'))
    .action(async (paths: string[], o: TestOptions) => {
      process.exitCode = await governorTest(paths, process.stdout, process.stderr, o);
    });
}
