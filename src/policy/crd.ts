// Builds the governor.io CustomResourceDefinitions from the policy JSON Schemas (the one source of truth), so the API
// server refuses what `governor lint` refuses: unknown fields, wrong types, and the cross-field rules CEL can state.
import { stringify } from 'yaml';
import commonSchema from './schemas/common.schema.json' with { type: 'json' };
import scalingSchema from './schemas/scaling-policy.schema.json' with { type: 'json' };
import migrationSchema from './schemas/migration-policy.schema.json' with { type: 'json' };
import governanceSchema from './schemas/governance-policy.schema.json' with { type: 'json' };

export const CRD_GROUP = 'governor.io';
export const CRD_VERSION = 'v1alpha1';

type Json = any;

/** A CEL rule attached to the node at `at` (a path of property names from the spec's root, [] = spec). */
export interface CelRule {
  readonly at: readonly string[];
  readonly rule: string;
  /** Same text as the `governor lint` message for the same problem. */
  readonly messageExpression?: string;
  readonly message?: string;
  /** Where the API server reports the error, relative to the node (e.g. ".high"). */
  readonly fieldPath?: string;
}

export interface CrdKind {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly scope: 'Namespaced' | 'Cluster';
  readonly schema: Json;
  readonly rules: readonly CelRule[];
  readonly status: Json;
  readonly printerColumns: readonly Json[];
}

/** Thrown when a schema uses a keyword the converter does not know how to make structural. */
export class CrdSchemaError extends Error {
  override name = 'CrdSchemaError';
}

// Keywords a structural schema accepts as they are (apiextensions.k8s.io/v1 JSONSchemaProps).
const KEPT = new Set(['type', 'description', 'format', 'pattern', 'minLength', 'maxLength', 'minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties', 'multipleOf', 'default', 'enum', 'nullable', 'title']);
// Keywords with no meaning for the API server; the webhook (the same compile as the loaders) still applies them.
const DROPPED = new Set(['$schema', '$id', 'examples', 'definitions', '$comment']);

function resolveRef(ref: string, local: Json): Json {
  const m = /^(common\.schema\.json)?#\/definitions\/([A-Za-z0-9_-]+)$/.exec(ref);
  if (!m) throw new CrdSchemaError(`unsupported $ref ${ref}`);
  const defs = m[1] ? commonSchema.definitions : local.definitions;
  const target = (defs as Json)?.[m[2]!];
  if (!target) throw new CrdSchemaError(`$ref ${ref} names no definition`);
  return { schema: target, local: m[1] ? commonSchema : local };
}

const isData = (v: unknown) => typeof v === 'object' && v !== null && '$data' in v;

function typeOfEnum(values: readonly unknown[]): string {
  const types = new Set(values.map((v) => (typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v)));
  if (types.size !== 1) throw new CrdSchemaError(`enum of mixed types: ${JSON.stringify(values)}`);
  return [...types][0]!;
}

/**
 * Converts one JSON Schema (draft-07, as ajv reads it) into a structural OpenAPI v3 schema. `$data` bounds and
 * `if`/`then` are left to CEL rules (CRD_KINDS) and the webhook; `additionalProperties: false` is what a structural
 * schema does anyway (unknown fields are refused by strict field validation, pruned otherwise).
 */
export function toStructural(schema: Json, local: Json, path = '#'): Json {
  if (schema.$ref) {
    const { schema: target, local: nextLocal } = resolveRef(schema.$ref, local);
    // Keywords beside a $ref (a description, a default) refine the referenced schema.
    const { $ref: _ref, ...rest } = schema;
    return toStructural({ ...target, ...rest }, nextLocal, path);
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) {
    if (KEPT.has(k)) out[k] = v;
    else if (DROPPED.has(k)) continue;
    else if (k === 'minimum' || k === 'maximum') {
      if (!isData(v)) out[k] = v;
    } else if (k === 'exclusiveMinimum' || k === 'exclusiveMaximum') {
      // draft-07 numeric form → OpenAPI v3.0 boolean form.
      if (!isData(v)) {
        out[k === 'exclusiveMinimum' ? 'minimum' : 'maximum'] = v;
        out[k] = true;
      }
    } else if (k === 'const') {
      out.enum = [v];
    } else if (k === 'properties') {
      out.properties = Object.fromEntries(Object.entries(v as Json).map(([name, s]) => [name, toStructural(s, local, `${path}/properties/${name}`)]));
    } else if (k === 'additionalProperties') {
      if (typeof v === 'object') out.additionalProperties = toStructural(v, local, `${path}/additionalProperties`);
      // false: the structural default; true would need x-kubernetes-preserve-unknown-fields, which no schema uses.
      else if (v === true) throw new CrdSchemaError(`${path}: additionalProperties: true is not supported`);
    } else if (k === 'patternProperties') {
      const values = Object.values(v as Json);
      if (values.length !== 1) throw new CrdSchemaError(`${path}: patternProperties with ${values.length} patterns`);
      out.additionalProperties = toStructural(values[0], local, `${path}/patternProperties`);
    } else if (k === 'items') {
      if (Array.isArray(v)) throw new CrdSchemaError(`${path}: tuple items are not structural`);
      out.items = toStructural(v, local, `${path}/items`);
    } else if (k === 'required') {
      out.required = v;
    } else if (k === 'if' || k === 'then' || k === 'else') {
      continue; // stated as CEL rules
    } else {
      throw new CrdSchemaError(`${path}: keyword ${k} has no structural equivalent; add a conversion in src/policy/crd.ts`);
    }
  }
  if (Array.isArray(out.type)) {
    // A union of scalar types (quantities: "500m" or 0.5): structural schemas only know int-or-string, which would
    // refuse 0.5, so the API server accepts any scalar here and the policy webhook checks it like `governor lint`.
    const { type: _t, pattern: _p, ...rest } = out;
    return { ...rest, 'x-kubernetes-preserve-unknown-fields': true };
  }
  if (out.type === undefined) {
    if (out.enum) out.type = typeOfEnum(out.enum);
    else if (out.properties || out.additionalProperties) out.type = 'object';
    else if (out.items) out.type = 'array';
    else throw new CrdSchemaError(`${path}: no type`);
  }
  if (out.additionalProperties && out.properties) throw new CrdSchemaError(`${path}: properties and additionalProperties together are not structural`);
  return out;
}

function attachRules(spec: Json, rules: readonly CelRule[]): void {
  for (const r of rules) {
    let node = spec;
    for (const seg of r.at) {
      node = node.properties?.[seg];
      if (!node) throw new CrdSchemaError(`CEL rule at spec.${r.at.join('.')}: no such field`);
    }
    const v: Json = { rule: r.rule };
    if (r.messageExpression) v.messageExpression = r.messageExpression;
    if (r.message) v.message = r.message;
    if (r.fieldPath) v.fieldPath = r.fieldPath;
    (node['x-kubernetes-validations'] ??= []).push(v);
  }
}

// ---------------------------------------------------------------------------------------------------- status schemas

const conditions = {
  type: 'array',
  description: 'Valid: the spec passed every check (the same as `governor lint`). Ready: the policy is in force on the server that writes this status.',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
  maxItems: 8,
  items: {
    type: 'object',
    required: ['type', 'status'],
    properties: {
      type: { type: 'string', maxLength: 64 },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
      reason: { type: 'string', maxLength: 128 },
      message: { type: 'string', maxLength: 4096 },
      observedGeneration: { type: 'integer', minimum: 0 },
      lastTransitionTime: { type: 'string', format: 'date-time' },
    },
  },
};

/** A kind's status schema: what the lease holder writes for every kind (observedGeneration, conditions), then its own fields. */
const statusSchema = (own: Record<string, Json>) => ({
  type: 'object',
  description: 'Written by the kube-governor replica holding the status lease.',
  properties: {
    observedGeneration: { type: 'integer', minimum: 0, description: 'metadata.generation of the spec this status describes.' },
    conditions,
    ...own,
  },
});

const scalingStatus = statusSchema({
  replicas: { type: 'integer', description: 'The replica count last decided (what the HPA is steered to).' },
  regime: { type: 'string', description: 'The formula regime of the last decision: below, proportional or overload.' },
  basis: { type: 'string', description: 'What the decision rests on: load, last-good, hold, fixed or unavailable.' },
  load: { type: 'number', description: 'The load the last decision is based on.' },
  loadTime: { type: 'string', format: 'date-time', description: 'When that load was read from the source.' },
  decisionTime: { type: 'string', format: 'date-time', description: 'When the last decision was made.' },
  source: {
    type: 'object',
    description: 'Health of the load source.',
    properties: {
      healthy: { type: 'boolean' },
      consecutiveFailures: { type: 'integer', minimum: 0 },
      message: { type: 'string', maxLength: 1024 },
    },
  },
});

const migrationStatus = statusSchema({
  phase: { type: 'string', description: 'Pending, Migrating, Paused, RollingBack, Completed or RolledBack.' },
  sourceReplicas: { type: 'integer', description: 'Replicas published for the source workload.' },
  targetReplicas: { type: 'integer', description: 'Replicas published for the target workload.' },
  message: { type: 'string', maxLength: 1024, description: 'The last step, in words.' },
});

const governanceStatus = statusSchema({
  inForce: { type: 'boolean', description: 'True when the admission webhook enforces (or audits) this policy.' },
});

const READY = '.status.conditions[?(@.type=="Ready")].status';
const AGE = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

// ------------------------------------------------------------------------------------------------------- CEL rules
// Each message is the one `governor lint` prints for the same problem (parse.ts describeAjvError, <kind>.ts compile).
// Numbers go through format(): the API server's cost estimate of string(<number>) is unbounded and refuses the CRD.

const thresholdRules = (at: string[]): CelRule[] => [
  { at, rule: 'self.high > self.low', messageExpression: "'must be greater than thresholds.low (%s)'.format([self.low])", fieldPath: '.high' },
];

// A value that fails the duration pattern is reported by the schema; the guard keeps CEL from adding a conversion error.
const isDuration = (field: string) => `self.${field}.matches(${JSON.stringify(commonSchema.definitions.duration.pattern).replace(/^"|"$/g, "'")})`;

const intervalRule = (at: string[] = []): CelRule => ({
  at,
  rule: `!has(self.interval) || !${isDuration('interval')} || duration(self.interval) >= duration('1s')`,
  message: 'interval must be at least 1s',
  fieldPath: '.interval',
});

const scalingRules: CelRule[] = [
  ...thresholdRules(['thresholds']),
  { at: ['replicas'], rule: '!has(self.base) || !has(self.min) || self.base >= self.min', messageExpression: "'must be >= %d'.format([self.min])", fieldPath: '.base' },
  { at: ['replicas'], rule: '!has(self.cap) || self.cap >= self.max', messageExpression: "'must be >= %d'.format([self.max])", fieldPath: '.cap' },
  { at: ['replicas'], rule: '!has(self.base) || self.base <= self.max', messageExpression: "'base (%d) must not exceed max (%d)'.format([self.base, self.max])", fieldPath: '.base' },
  { at: ['replicas'], rule: '!has(self.min) || self.min <= self.max', messageExpression: "'min (%d) must not exceed max (%d)'.format([self.min, self.max])", fieldPath: '.min' },
  { at: ['onSourceFailure'], rule: "self.action != 'fixed' || has(self.replicas)", message: 'is required', fieldPath: '.replicas' },
  intervalRule(),
  {
    at: [],
    rule: `!has(self.interval) || !has(self.staleAfter) || !${isDuration('interval')} || !${isDuration('staleAfter')} || duration(self.staleAfter) >= duration(self.interval)`,
    messageExpression: "'staleAfter (' + self.staleAfter + ') must be at least the interval (' + self.interval + ')'",
    fieldPath: '.staleAfter',
  },
  {
    at: [],
    rule:
      "!has(self.onSourceFailure) || self.onSourceFailure.action != 'fixed' || !has(self.onSourceFailure.replicas) || " +
      '(self.onSourceFailure.replicas >= (has(self.replicas.min) ? self.replicas.min : 1) && ' +
      'self.onSourceFailure.replicas <= (has(self.replicas.cap) ? self.replicas.cap : self.replicas.max))',
    messageExpression:
      "'fixed replicas (%d) must lie within min..cap (%d..%d)'.format([self.onSourceFailure.replicas, " +
      'has(self.replicas.min) ? self.replicas.min : 1, has(self.replicas.cap) ? self.replicas.cap : self.replicas.max])',
    fieldPath: '.onSourceFailure.replicas',
  },
];

const migrationRules: CelRule[] = [
  ...thresholdRules(['thresholds']),
  {
    at: ['target'],
    rule: '!has(self.maxReplicas) || !has(self.minReplicas) || self.minReplicas <= self.maxReplicas',
    messageExpression: "'minReplicas (%d) must not exceed maxReplicas (%d)'.format([self.minReplicas, self.maxReplicas])",
    fieldPath: '.minReplicas',
  },
  { at: [], rule: '!(self.source.kind == self.target.kind && self.source.name == self.target.name)', message: 'source and target must be different workloads', fieldPath: '.target.name' },
  intervalRule(),
  {
    at: [],
    rule: '!has(self.capacity) || !has(self.capacity.replicas) || !has(self.target.maxReplicas) || self.capacity.replicas <= self.target.maxReplicas',
    messageExpression: "'capacity (%d) exceeds target.maxReplicas (%d): the source could never drain'.format([self.capacity.replicas, self.target.maxReplicas])",
    fieldPath: '.capacity.replicas',
  },
];

/** A kind's entry: names from the kind, its own printer columns (name, type, JSONPath), then Ready and Age. */
function crdKind(kind: string, scope: CrdKind['scope'], parts: Pick<CrdKind, 'schema' | 'rules' | 'status'>, columns: readonly (readonly [string, string, string])[]): CrdKind {
  const singular = kind.toLowerCase();
  const printerColumns = [...columns.map(([name, type, jsonPath]) => ({ name, type, jsonPath })), { name: 'Ready', type: 'string', jsonPath: READY }, AGE];
  return { kind, plural: singular.replace(/y$/, 'ies'), singular, scope, ...parts, printerColumns };
}

/** The three kinds. GovernancePolicy's cross-field rules (quantities, regexes, label syntax) are the webhook's. */
export const CRD_KINDS: readonly CrdKind[] = [
  crdKind('ScalingPolicy', 'Namespaced', { schema: scalingSchema, rules: scalingRules, status: scalingStatus }, [
    ['Target', 'string', '.spec.target.name'],
    ['Load', 'number', '.status.load'],
    ['Regime', 'string', '.status.regime'],
    ['Replicas', 'integer', '.status.replicas'],
  ]),
  crdKind('MigrationPolicy', 'Namespaced', { schema: migrationSchema, rules: migrationRules, status: migrationStatus }, [
    ['Source', 'string', '.spec.source.name'],
    ['Target', 'string', '.spec.target.name'],
    ['Phase', 'string', '.status.phase'],
  ]),
  crdKind('GovernancePolicy', 'Cluster', { schema: governanceSchema, rules: [], status: governanceStatus }, [
    ['Mode', 'string', '.spec.mode'],
    ['In-Force', 'boolean', '.status.inForce'],
  ]),
];

/** The CustomResourceDefinition of one kind. Pure: same schemas in, same object out. */
export function buildCrd(k: CrdKind): Json {
  const root = k.schema;
  const spec = toStructural(root.properties.spec, root, '#/properties/spec');
  attachRules(spec, k.rules);
  const schema = {
    type: 'object',
    description: root.description,
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      // The API server validates metadata itself; a CRD schema may only restrict name and generateName.
      metadata: { type: 'object' },
      spec,
      status: k.status,
    },
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${CRD_GROUP}`, labels: { 'app.kubernetes.io/name': 'kube-governor' } },
    spec: {
      group: CRD_GROUP,
      scope: k.scope,
      names: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.singular, categories: ['governor'] },
      versions: [
        {
          name: CRD_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: k.printerColumns,
          schema: { openAPIV3Schema: schema },
        },
      ],
    },
  };
}

/** The file name under manifests/base/crds/ and its header comment. */
export function crdFileName(k: CrdKind): string {
  return `${k.kind.toLowerCase()}.yaml`;
}

export function crdHeader(k: CrdKind): string {
  return [
    `# ${k.kind} (${CRD_GROUP}/${CRD_VERSION}, ${k.scope === 'Cluster' ? 'cluster' : 'namespaced'}): ${k.schema.description}`,
    '# GENERATED by `npm run gen-crds` (hack/gen-crds.ts) from src/policy/schemas/*.schema.json: do not edit by hand.',
    '# Unknown fields, types and the cross-field rules below are checked by the API server; regexes, quantities and',
    '# label syntax by the policy webhook (validate-policies.governor.io), with the same messages as `governor lint`.',
  ].join('\n');
}

/** The text of manifests/base/crds/<file>: what hack/gen-crds.ts writes and the drift test compares. */
export function renderCrd(k: CrdKind): string {
  return `${crdHeader(k)}\n${stringify(buildCrd(k), { lineWidth: 0 })}`;
}
