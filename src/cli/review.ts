// `governor review`: offline, what `kubectl apply` would get from the webhook (mutate, then validate) — the same engine.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseAllDocuments, stringify } from 'yaml';
import { GovernanceEngine, skippedNamespaces } from '../governance/engine.js';
import { formatViolation, type RuleResult } from '../governance/result.js';
import { isRecord } from '../governance/json-patch.js';
import { StaticNamespaces } from '../kube/namespaces.js';
import { listFiles, loadCheckedPolicies } from '../policy/load-files.js';
import { formatPolicyError } from '../policy/types.js';
import type { GovernancePolicy } from '../policy/governance-policy.js';
import { reviewNamespace } from '../policy/kinds.js';
import { outputOption, repeatable } from './conventions.js';

/** Bad flags or unreadable inputs: exit code 2, like a failed lint. */
export class ReviewUsageError extends Error {
  override name = 'ReviewUsageError';
}

export interface ReviewOptions {
  readonly policies: readonly string[];
  readonly manifests: readonly string[];
  /** "ns=k=v,k2=v2" entries. */
  readonly namespaceLabels?: readonly string[];
  readonly namespaceAnnotations?: readonly string[];
  /** Namespace of objects without metadata.namespace (kubectl's default). */
  readonly namespace?: string;
  /** The webhook's own namespace, never evaluated. */
  readonly serviceNamespace?: string;
  /** yaml (default): the mutated objects, for `kubectl apply -f -`; json: the structured report (ReviewReport). */
  readonly output?: 'yaml' | 'json';
  /** stdin text for "-". */
  readonly stdin?: () => Promise<string>;
}

export interface LoadedObject {
  readonly file: string;
  readonly document: number;
  readonly object: unknown;
}

/** "shop=tier=prod,team=a" → ["shop", {tier: "prod", team: "a"}]. */
export function parseNamespaceFlag(v: string): [string, Record<string, string>] {
  const i = v.indexOf('=');
  if (i <= 0) throw new ReviewUsageError(`"${v}": expected NAMESPACE=key=value[,key=value]`);
  const map: Record<string, string> = {};
  for (const kv of v.slice(i + 1).split(',').filter(Boolean)) {
    const j = kv.indexOf('=');
    if (j <= 0) throw new ReviewUsageError(`"${v}": "${kv}" is not key=value`);
    map[kv.slice(0, j)] = kv.slice(j + 1);
  }
  return [v.slice(0, i), map];
}

/**
 * The files under the paths, through the project's one directory walk (src/policy/load-files.ts), in order; `-` is
 * stdin. A path that cannot be read is a usage error.
 */
export async function inputFiles(paths: readonly string[], pattern: RegExp): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push(p);
      continue;
    }
    const r = await listFiles([p], pattern);
    const e = r.errors[0];
    if (e) throw new ReviewUsageError(`cannot ${e.action} ${e.path}: ${e.code}`);
    out.push(...r.files);
  }
  return out;
}

/** Every object of the manifests, in order; `kind: List` items are flattened. */
export async function loadManifests(paths: readonly string[], stdin?: () => Promise<string>): Promise<LoadedObject[]> {
  const objects: LoadedObject[] = [];
  for (const file of await inputFiles(paths, /\.(ya?ml|json)$/i)) {
    const text = file === '-' ? await (stdin ?? (() => readStream(process.stdin)))() : await readFile(file, 'utf8');
    const docs = parseAllDocuments(text);
    if (!Array.isArray(docs)) continue;
    docs.forEach((doc, i) => {
      if (doc.errors.length) throw new ReviewUsageError(`${file} (document ${i + 1}): YAML syntax: ${doc.errors[0]!.message.split('\n')[0]}`);
      const obj = doc.toJS({ maxAliasCount: 50 });
      if (obj === null || obj === undefined) return;
      const items = isRecord(obj) && obj.kind === 'List' && Array.isArray(obj.items) ? obj.items : [obj];
      for (const item of items) objects.push({ file: file === '-' ? '<stdin>' : file, document: i + 1, object: item });
    });
  }
  return objects;
}

function readStream(s: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(Buffer.from(c)));
    s.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.on('error', reject);
  });
}

/** Loads and cross-checks the GovernancePolicies; policy errors are usage errors. */
export async function loadGovernancePolicies(paths: readonly string[]): Promise<GovernancePolicy[]> {
  const r = await loadCheckedPolicies(paths);
  if (r.errors.length) throw new ReviewUsageError(`invalid policies:\n${r.errors.map(formatPolicyError).join('\n')}`);
  return r.policies.filter((p): p is GovernancePolicy => p.kind === 'GovernancePolicy');
}

/** apiVersion, kind, namespace and name of a reviewed object. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** One rule outcome that concerns the user: a denial, a warning (audit, non-blocking, not evaluated) or an exception used. */
export interface ReviewFinding {
  readonly policy: string;
  readonly rule: string;
  readonly path: string;
  readonly message: string;
  /** The rule's mode: enforce or audit. */
  readonly mode: string;
  /** fail, warn, error or skip (excused by an exception, or its `when` does not hold). */
  readonly status: string;
  /**
   * What the finding does to the request: deny, warn, exception (skipped, with `exception`), or skip (not applicable:
   * `condition` names the `when` that does not hold, the message says why).
   */
  readonly effect: 'deny' | 'warn' | 'exception' | 'skip';
  readonly exception?: { readonly via: string; readonly reason: string };
  readonly condition?: string;
}

/** The verdict for one object and why: `governor review -o json`. */
export interface ReviewResult {
  readonly object: ObjectRef;
  readonly file: string;
  readonly document: number;
  readonly allowed: boolean;
  readonly mutated: boolean;
  /** The JSON patch the webhook would return. */
  readonly patch: readonly unknown[];
  readonly findings: readonly ReviewFinding[];
  /** Findings past the engine's limit, counted but not listed. */
  readonly omitted?: { readonly denials: number; readonly warnings: number; readonly exceptions: number; readonly skipped?: number };
  /** The object as the webhook would leave it (what `-o yaml` prints). */
  readonly mutatedObject: unknown;
}

export interface ReviewReport {
  readonly apiVersion: 'governor.io/v1alpha1';
  readonly kind: 'ReviewReport';
  /** false when any object would be denied (the exit code is then 1). */
  readonly allowed: boolean;
  readonly summary: { readonly objects: number; readonly policies: number; readonly denied: number; readonly withWarnings: number; readonly mutated: number };
  readonly results: readonly ReviewResult[];
}

function objectRef(obj: unknown, namespace: string): ObjectRef {
  const o = isRecord(obj) ? obj : {};
  const m = isRecord(o.metadata) ? o.metadata : {};
  const name = typeof m.name === 'string' && m.name ? m.name : typeof m.generateName === 'string' ? `${m.generateName}*` : '';
  return { apiVersion: typeof o.apiVersion === 'string' ? o.apiVersion : '', kind: typeof o.kind === 'string' ? o.kind : '', namespace, name };
}

function finding(r: RuleResult, effect: ReviewFinding['effect']): ReviewFinding {
  return {
    policy: r.policy,
    rule: r.rule,
    path: r.path,
    message: r.message,
    mode: r.mode,
    status: r.status,
    effect,
    ...(r.exception ? { exception: { via: r.exception.via, reason: r.exception.reason } } : {}),
    ...(r.condition !== undefined ? { condition: r.condition } : {}),
  };
}

function describe(obj: unknown, namespace: string): string {
  const o = isRecord(obj) ? obj : {};
  const m = isRecord(o.metadata) ? o.metadata : {};
  const name = typeof m.name === 'string' && m.name ? m.name : typeof m.generateName === 'string' ? `${m.generateName}*` : '?';
  return `${typeof o.kind === 'string' ? o.kind : '?'} ${namespace}/${name}`;
}

export async function review(o: ReviewOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const policies = await loadGovernancePolicies(o.policies);
  const objects = await loadManifests(o.manifests, o.stdin);
  const namespaces = new StaticNamespaces();
  for (const { object } of objects) {
    if (isRecord(object) && object.kind === 'Namespace' && object.apiVersion === 'v1' && isRecord(object.metadata) && typeof object.metadata.name === 'string') {
      const m = object.metadata;
      namespaces.set(object.metadata.name, { labels: isRecord(m.labels) ? (m.labels as Record<string, string>) : {}, annotations: isRecord(m.annotations) ? (m.annotations as Record<string, string>) : {} });
    }
  }
  for (const [flags, field] of [
    [o.namespaceLabels, 'labels'],
    [o.namespaceAnnotations, 'annotations'],
  ] as const) {
    for (const f of flags ?? []) {
      const [ns, map] = parseNamespaceFlag(f);
      const cur = namespaces.get(ns) ?? { labels: {}, annotations: {} };
      namespaces.set(ns, { ...cur, [field]: { ...cur[field], ...map } });
    }
  }
  const engine = new GovernanceEngine(policies, { skipNamespaces: skippedNamespaces(o.serviceNamespace) });
  const outputs: unknown[] = [];
  const results: ReviewResult[] = [];
  let denied = 0;
  let warned = 0;
  let patched = 0;
  for (const { file, document, object } of objects) {
    const namespace = reviewNamespace(object, o.namespace ?? 'default');
    const info = namespaces.get(namespace);
    const r = engine.review(object, { namespace, ...(info ? { namespaceInfo: info } : {}) });
    outputs.push(r.mutation.mutated);
    const where = `${file} (document ${document}) ${describe(object, namespace)}`;
    const d = r.validation.decision;
    if (r.mutation.patch.length) patched++;
    results.push({
      object: objectRef(object, namespace),
      file,
      document,
      allowed: d.allowed,
      mutated: r.mutation.patch.length > 0,
      patch: r.mutation.patch,
      findings: [
        ...d.denials.map((x) => finding(x, 'deny')),
        ...d.warnings.map((x) => finding(x, 'warn')),
        ...d.exceptions.map((x) => finding(x, 'exception')),
        ...r.validation.results.filter((x) => x.status === 'skip' && x.condition !== undefined).map((x) => finding(x, 'skip')),
      ],
      ...(d.omitted ? { omitted: { ...d.omitted } } : {}),
      mutatedObject: r.mutation.mutated,
    });
    // The same bounded report as the webhook: the engine keeps MAX_REPORTED of each kind and counts the rest.
    const lines = (rs: readonly RuleResult[], more = 0) => rs.map((x) => `  ${formatViolation(x)}\n`).join('') + (more ? `  … and ${more} more\n` : '');
    if (!d.allowed) {
      denied++;
      err.write(`${where}: denied\n${lines(d.denials, d.omitted?.denials)}`);
    }
    if (d.warnings.length) {
      warned++;
      err.write(`${where}: warnings\n${lines(d.warnings, d.omitted?.warnings)}`);
    }
    for (const x of d.exceptions) err.write(`${where}: exception used: ${x.policy}/${x.rule} (${x.exception!.via}): ${x.exception!.reason}\n`);
  }
  if (o.output === 'json') {
    const report: ReviewReport = {
      apiVersion: 'governor.io/v1alpha1',
      kind: 'ReviewReport',
      allowed: denied === 0,
      summary: { objects: objects.length, policies: policies.length, denied, withWarnings: warned, mutated: patched },
      results,
    };
    out.write(`${JSON.stringify(report, null, 2)}\n`);
  } else out.write(outputs.map((x) => stringify(x, { lineWidth: 0 })).join('---\n'));
  err.write(`${objects.length} object(s) reviewed against ${policies.length} GovernancePolicy: ${denied} denied, ${warned} with warnings, ${patched} mutated\n`);
  return denied ? 1 : 0;
}

export function registerReview(program: Command): void {
  program
    .command('review')
    .description('offline admission review: mutated objects on stdout, violations and warnings on stderr; exit code 1 when anything would be denied')
    .requiredOption('--policies <path>', 'GovernancePolicy file or directory (repeatable)', repeatable)
    .option('--namespace-labels <ns=k=v,...>', 'labels of a namespace, for namespaceSelector and fromNamespace (repeatable)', repeatable)
    .option('--namespace-annotations <ns=k=v,...>', 'annotations of a namespace, for fromNamespace (repeatable)', repeatable)
    .option('-n, --namespace <ns>', 'namespace of objects that name none', 'default')
    .option('--service-namespace <ns>', "the webhook's own namespace (never evaluated)", 'kube-governor')
    .addOption(outputOption(['yaml', 'json'], 'yaml', 'yaml: the mutated objects, for kubectl apply -f -; json: a ReviewReport with the verdict and findings per object, for CI'))
    .argument('<manifests...>', 'manifest files or directories ("-" for stdin); Namespace objects among them provide namespace labels')
    .action(async (manifests: string[], opts) => {
      try {
        process.exitCode = await review({ ...opts, manifests }, process.stdout, process.stderr);
      } catch (e) {
        if (!(e instanceof ReviewUsageError)) throw e;
        process.stderr.write(`governor review: ${e.message}\n`);
        process.exitCode = 2;
      }
    });
}
