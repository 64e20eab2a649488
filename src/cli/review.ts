// `governor review`: offline, what `kubectl apply` would get from the webhook (mutate, then validate) — the same engine.
import { once } from 'node:events';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { GovernanceEngine, skippedNamespaces } from '../governance/engine.js';
import { formatViolation, type RuleResult } from '../governance/result.js';
import { isRecord } from '../governance/json-patch.js';
import { StaticNamespaces } from '../kube/namespaces.js';
import { listFiles, loadCheckedPolicies } from '../policy/load-files.js';
import { formatPolicyError } from '../policy/types.js';
import type { GovernancePolicy } from '../policy/governance-policy.js';
import { reviewNamespace } from '../policy/kinds.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, outputOption, repeatable } from './conventions.js';
import { formatManifestError, isManifestError, ManifestInputs, type LoadedObject, type ManifestError, type StdinSource } from './manifests.js';

export type { LoadedObject, ManifestError } from './manifests.js';

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
  /** stdin for "-": a stream (default process.stdin) or a function giving its text. */
  readonly stdin?: StdinSource;
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

/** Manifest files: what directories give. */
export const MANIFEST_FILES = /\.(ya?ml|json)$/i;

/**
 * Every object of the manifests, in order; `kind: List` items are flattened. Holds them all: for commands that need
 * them together (convert); review streams them. A document that cannot be read is a usage error naming where it is.
 */
export async function loadManifests(paths: readonly string[], stdin?: StdinSource): Promise<LoadedObject[]> {
  const inputs = new ManifestInputs(await inputFiles(paths, MANIFEST_FILES), stdin);
  const objects: LoadedObject[] = [];
  try {
    for await (const x of inputs.objects()) {
      if (isManifestError(x)) throw new ReviewUsageError(formatManifestError(x));
      objects.push(x);
    }
  } finally {
    await inputs.close();
  }
  return objects;
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
  /** Documents that could not be read (file, document, line, column, message); absent when there are none. */
  readonly errors?: readonly ManifestError[];
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

/** Writes to a stream, waiting while its buffer is full: the output never piles up in memory. */
async function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/** A result as it sits in the report: JSON.stringify(report, null, 2) of one element of `results`. */
const indentedResult = (r: ReviewResult): string => `    ${JSON.stringify(r, null, 2).replaceAll('\n', '\n    ')}`;

/**
 * Reviews the manifests one document at a time: each object is read, reviewed and written before the next is read, so
 * memory does not grow with the input. `-o json` writes the ReviewReport as it goes (`results` first; `allowed`,
 * `summary` and `errors` once every object is known). A document that cannot be read is reported on stderr with its
 * file, line and column and the others are still reviewed; the exit code is then 2.
 */
export async function review(o: ReviewOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const policies = await loadGovernancePolicies(o.policies);
  const inputs = new ManifestInputs(await inputFiles(o.manifests, MANIFEST_FILES), o.stdin);
  try {
    const namespaces = new StaticNamespaces(await inputs.namespaces());
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
    const json = o.output === 'json';
    const errors: ManifestError[] = [];
    let objects = 0;
    let denied = 0;
    let warned = 0;
    let patched = 0;
    if (json) await write(out, `{\n  "apiVersion": "governor.io/v1alpha1",\n  "kind": "ReviewReport",\n  "results": [`);
    // The same bounded report as the webhook: the engine keeps MAX_REPORTED of each kind and counts the rest.
    const lines = (rs: readonly RuleResult[], more = 0) => rs.map((x) => `  ${formatViolation(x)}\n`).join('') + (more ? `  … and ${more} more\n` : '');
    for await (const item of inputs.objects()) {
      if (isManifestError(item)) {
        errors.push(item);
        err.write(`governor review: ${formatManifestError(item)}\n`);
        continue;
      }
      const { file, document, object } = item;
      const namespace = reviewNamespace(object, o.namespace ?? 'default');
      const info = namespaces.get(namespace);
      const r = engine.review(object, { namespace, ...(info ? { namespaceInfo: info } : {}) });
      const where = `${file} (document ${document}) ${describe(object, namespace)}`;
      const d = r.validation.decision;
      if (r.mutation.patch.length) patched++;
      if (json) {
        const result: ReviewResult = {
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
        };
        await write(out, `${objects ? ',' : ''}\n${indentedResult(result)}`);
      } else await write(out, `${objects ? '---\n' : ''}${stringify(r.mutation.mutated, { lineWidth: 0 })}`);
      objects++;
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
    if (json) {
      const summary: ReviewReport['summary'] = { objects, policies: policies.length, denied, withWarnings: warned, mutated: patched };
      const tail = { allowed: denied === 0, summary, ...(errors.length ? { errors } : {}) };
      await write(out, `${objects ? '\n  ' : ''}],\n${JSON.stringify(tail, null, 2).slice(2)}\n`);
    }
    err.write(`${objects} object(s) reviewed against ${policies.length} GovernancePolicy: ${denied} denied, ${warned} with warnings, ${patched} mutated${errors.length ? `; ${errors.length} document(s) could not be read` : ''}\n`);
    return errors.length ? EXIT_USAGE : denied ? EXIT_FAILED : EXIT_OK;
  } finally {
    await inputs.close();
  }
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
    .option('-f, --filename <path>', 'manifest file, directory or "-" for stdin, like the arguments (repeatable)', repeatable, [])
    .argument('[manifests...]', 'manifest files or directories ("-" for stdin); Namespace objects among them provide namespace labels')
    .action(async (args: string[], opts) => {
      try {
        const manifests = [...args, ...(opts.filename as string[])];
        if (!manifests.length) throw new ReviewUsageError('no manifests: give files, directories or "-" (as arguments or with -f)');
        process.exitCode = await review({ ...opts, manifests }, process.stdout, process.stderr);
      } catch (e) {
        if (!(e instanceof ReviewUsageError)) throw e;
        process.stderr.write(`governor review: ${e.message}\n`);
        process.exitCode = 2;
      }
    });
}
