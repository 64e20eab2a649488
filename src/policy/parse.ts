// Parses policy text (multi-document YAML or JSON) into compiled policies, with errors that name file, document, path and line.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { LineCounter, parseAllDocuments, isMap, isNode, isScalar } from 'yaml';
import * as generatedValidators from './schemas/validators.generated.js';
import { readPlainYaml } from './plain-yaml.js';
import type { PolicyKindSpec } from './kind.js';
import { scalingPolicyKind } from './scaling-policy.js';
import { migrationPolicyKind } from './migration-policy.js';
import { governancePolicyKind, type GovernancePolicy } from './governance-policy.js';
import type { MigrationPolicy, PolicyError, ScalingPolicy } from './types.js';

export type AnyPolicy = ScalingPolicy | MigrationPolicy | GovernancePolicy;

export const POLICY_KINDS: readonly PolicyKindSpec<AnyPolicy>[] = [scalingPolicyKind, migrationPolicyKind, governancePolicyKind];
/** Documents that live in policy directories but are not policies (`governor test` suites). */
export const NON_POLICY_KINDS: ReadonlySet<unknown> = new Set(['GovernanceTest']);

/**
 * The schemas compiled ahead of time (`npm run gen-validators`, src/policy/validators-gen.ts): compiling them at
 * start-up was most of a CLI command's time. Their `pattern`s run on RE2 (src/policy/schema-regexp.ts).
 */
class Validators {
  private readonly byKind = new Map<string, { spec: PolicyKindSpec<AnyPolicy>; validate: ValidateFunction }>();
  constructor(kinds: readonly PolicyKindSpec<AnyPolicy>[]) {
    const compiled = generatedValidators as unknown as Record<string, ValidateFunction | undefined>;
    for (const spec of kinds) {
      const validate = compiled[spec.kind];
      if (!validate) throw new Error(`no generated validator for ${spec.kind}: run npm run gen-validators`);
      this.byKind.set(spec.kind, { spec, validate });
    }
  }
  get(kind: string) {
    return this.byKind.get(kind);
  }
  kinds(): string[] {
    return [...this.byKind.keys()];
  }
}

let defaultValidators: Validators | undefined;
function validators(): Validators {
  defaultValidators ??= new Validators(POLICY_KINDS);
  return defaultValidators;
}

export interface ParseResult {
  readonly policies: AnyPolicy[];
  readonly errors: PolicyError[];
}

/** "/spec/thresholds/high" → ["spec","thresholds","high"] (numeric segments become indexes). */
function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function describeAjvError(e: ErrorObject): { path: (string | number)[]; message: string } {
  const path = pointerToPath(e.instancePath);
  switch (e.keyword) {
    case 'required':
      return { path: [...path, (e.params as any).missingProperty], message: 'is required' };
    case 'additionalProperties':
      return { path: [...path, (e.params as any).additionalProperty], message: 'is not a known field (check the spelling)' };
    case 'enum':
      return { path, message: `must be one of ${(e.params as any).allowedValues.map((v: unknown) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { path, message: `must be ${JSON.stringify((e.params as any).allowedValue)}` };
    case 'exclusiveMinimum':
      if (path.at(-1) === 'high') return { path, message: `must be greater than thresholds.low (${(e.params as any).limit})` };
      return { path, message: e.message ?? 'is too small' };
    case 'minimum':
      return { path, message: `must be >= ${(e.params as any).limit}` };
    case 'minProperties':
    case 'maxProperties':
      return { path, message: path.at(-1) === 'load' ? 'must name exactly one source (prometheus or http)' : `must have ${e.message?.replace(/^must have /, '')}` };
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

type Locate = (path: readonly (string | number)[]) => { line?: number; column?: number };

/** Validates and compiles one decoded document (from a file or a cluster object). Never throws. */
export function compileObject(obj: any, origin: { file: string; document: number }, at: Locate = () => ({})): { policy?: AnyPolicy; errors: PolicyError[] } {
  const { file, document } = origin;
  const errors: PolicyError[] = [];
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    errors.push({ file, document, ...at([]), path: '', message: 'a policy document must be a mapping with apiVersion, kind, metadata and spec' });
    return { errors };
  }
  const kindName = typeof obj.kind === 'string' ? obj.kind : undefined;
  const v = kindName ? validators().get(kindName) : undefined;
  if (!v) {
    errors.push({ file, document, ...at(['kind']), path: 'kind', message: `unknown kind ${JSON.stringify(obj.kind)}; expected one of ${validators().kinds().join(', ')}` });
    return { errors };
  }
  const policy = `${kindName}/${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name ?? '?'}`;
  if (!v.validate(obj)) {
    const seen = new Set<string>();
    for (const e of v.validate.errors ?? []) {
      if (e.keyword === 'if') continue; // the branch error that follows says what is wrong
      const d = describeAjvError(e);
      const key = `${formatPath(d.path)}|${d.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      errors.push({ file, document, policy, ...at(d.path), path: formatPath(d.path), message: d.message });
    }
    return { errors };
  }
  const r = v.spec.compile(obj, { file, document });
  if (r.issues) {
    for (const issue of r.issues) errors.push({ file, document, policy, ...at(issue.path), path: formatPath(issue.path), message: issue.message });
    return { errors };
  }
  return { policy: r.value, errors };
}

/**
 * Parses one file's text. Never throws: every problem becomes a PolicyError. A file whose documents all read as plain
 * YAML (readPlainYaml) and compile without error is taken from the fast reader; any other file, or any problem, is
 * parsed again by `yaml`, whose syntax tree places each error at its line and column. `fastPath: false` (tests) skips
 * the fast reader.
 */
export function parsePolicyText(text: string, file: string, o: { fastPath?: boolean } = {}): ParseResult {
  if (o.fastPath !== false) {
    const fast = parsePlainText(text, file);
    if (fast) return fast;
  }
  return parseWithPositions(text, file);
}

/** V8 makes a substring this long or longer a slice that keeps its whole parent string alive. */
const SLICE_MIN_LENGTH = 13;

/**
 * The decoded document with its own copy of every long string, changed in place. A YAML reader's strings are slices
 * of the file's text, and V8 keeps a parent string whole while any slice of it lives: every policy file's full text
 * stayed in memory as long as one of its policies did. Iterative, so nesting depth cannot overflow the stack.
 */
function ownStrings(doc: unknown): void {
  const own = (v: unknown) => (typeof v === 'string' && v.length >= SLICE_MIN_LENGTH ? (JSON.parse(JSON.stringify(v)) as string) : v);
  const stack: unknown[] = [doc];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        v[i] = own(v[i]);
        stack.push(v[i]);
      }
      continue;
    }
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const x = o[k];
      // Only strings are replaced (an assignment to a "__proto__" key would set the prototype instead).
      if (typeof x === 'string') {
        if (k !== '__proto__') o[k] = own(x);
      } else stack.push(x);
    }
  }
}

/** Every document compiled from the fast reader's values, or undefined at the first problem. */
function parsePlainText(text: string, file: string): ParseResult | undefined {
  const docs = readPlainYaml(text);
  if (!docs) return undefined;
  const policies: AnyPolicy[] = [];
  for (let i = 0; i < docs.length; i++) {
    const obj = docs[i] as any;
    if (obj === null || obj === undefined) continue;
    if (NON_POLICY_KINDS.has(obj?.kind)) continue;
    ownStrings(obj);
    const r = compileObject(obj, { file, document: i + 1 });
    if (r.errors.length || !r.policy) return undefined;
    policies.push(r.policy);
  }
  return { policies, errors: [] };
}

function parseWithPositions(text: string, file: string): ParseResult {
  const policies: AnyPolicy[] = [];
  const errors: PolicyError[] = [];
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  // An empty stream parses to an EmptyStream: nothing to load.
  if (!Array.isArray(docs)) return { policies, errors };
  docs.forEach((doc, i) => {
    const document = i + 1;
    const at = (path: readonly (string | number)[]) => {
      // A field is shown at its key (`resorces:`), not at its value, which may start on a later line.
      if (path.length) {
        const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
        const pair = isMap(parent) ? parent.items.find((it) => isScalar(it.key) && it.key.value === path[path.length - 1]) : undefined;
        if (isScalar(pair?.key) && pair.key.range) {
          const pos = lc.linePos(pair.key.range[0]);
          return { line: pos.line, column: pos.col };
        }
      }
      let node: unknown = path.length ? doc.getIn(path, true) : doc.contents;
      // Missing fields point at their parent.
      for (let n = path.length - 1; !isNode(node) && n >= 0; n--) node = n ? doc.getIn(path.slice(0, n), true) : doc.contents;
      const offset = isNode(node) && node.range ? node.range[0] : 0;
      const pos = lc.linePos(offset);
      return { line: pos.line, column: pos.col };
    };
    if (doc.errors.length) {
      for (const e of doc.errors) {
        const pos = lc.linePos(e.pos[0]);
        errors.push({ file, document, line: pos.line, column: pos.col, path: '', message: `YAML syntax: ${e.message.split('\n')[0]}` });
      }
      return;
    }
    const obj = doc.toJS({ maxAliasCount: 50 });
    if (obj === null || obj === undefined) return; // empty document (e.g. trailing ---)
    if (NON_POLICY_KINDS.has(obj?.kind)) return; // test suites may sit beside the policies they test
    ownStrings(obj);
    const r = compileObject(obj, { file, document }, at);
    errors.push(...r.errors);
    if (r.policy) policies.push(r.policy);
  });
  return { policies, errors };
}
