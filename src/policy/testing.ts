// Test helpers (ordinary code, used by tests): ScalingPolicy and MigrationPolicy documents from the fields a test
// varies, and policy text parsed with every error thrown, so a broken fixture is obvious.
import { parsePolicyText, type AnyPolicy } from './parse.js';
import { formatPolicyError, type MigrationPolicy, type ScalingPolicy } from './types.js';

/** Parses policy documents of any kind; throws with every error. */
export function parsedPolicies(text: string, file = 'inline.yaml'): AnyPolicy[] {
  const r = parsePolicyText(text, file);
  if (r.errors.length) throw new Error(r.errors.map(formatPolicyError).join('\n'));
  return r.policies;
}

/** Fields common to both kinds, as YAML flow text where they are maps. */
interface LoadReadingFixture {
  readonly name: string;
  /** Default: shop. */
  readonly namespace?: string;
  /** Default: {prometheus: {query: 'x'}}. */
  readonly load?: string;
  /** Default: {low: 100, high: 800}. */
  readonly thresholds?: string;
  readonly step?: number;
  /** Default: 30s. */
  readonly interval?: string;
  /** More lines under spec, e.g. "onSourceFailure: {action: hold, after: 2}". */
  readonly more?: readonly string[];
}

export interface ScalingFixture extends LoadReadingFixture {
  /** Deployment name; default: the policy's name. */
  readonly target?: string;
  /** e.g. {min: 2, base: 3, max: 10} */
  readonly replicas: string;
}

export interface MigrationFixture extends LoadReadingFixture {
  /** Deployment names. */
  readonly source: string;
  readonly target: string;
  /** Default: {minReplicas: 1, maxReplicas: 20} */
  readonly targetReplicas?: string;
  readonly base?: number;
  /** e.g. {replicas: 6} */
  readonly capacity?: string;
}

function document(kind: string, f: LoadReadingFixture, own: readonly string[], after: readonly string[]): string {
  const lines = [
    'apiVersion: governor.io/v1alpha1',
    `kind: ${kind}`,
    `metadata: {name: ${f.name}, namespace: ${f.namespace ?? 'shop'}}`,
    'spec:',
    ...own,
    `load: ${f.load ?? "{prometheus: {query: 'x'}}"}`,
    `thresholds: ${f.thresholds ?? '{low: 100, high: 800}'}`,
    ...after,
    ...(f.step !== undefined ? [`step: ${f.step}`] : []),
    `interval: ${f.interval ?? '30s'}`,
    ...(f.more ?? []),
  ];
  return `${lines.map((l, i) => (i > 3 ? `  ${l}` : l)).join('\n')}\n`;
}

/** A ScalingPolicy document. */
export function scalingPolicyYaml(f: ScalingFixture): string {
  return document('ScalingPolicy', f, [`target: {apiVersion: apps/v1, kind: Deployment, name: ${f.target ?? f.name}}`], [`replicas: ${f.replicas}`]);
}

/** A MigrationPolicy document. */
export function migrationPolicyYaml(f: MigrationFixture): string {
  const target = (f.targetReplicas ?? '{minReplicas: 1, maxReplicas: 20}').replace(/^\{/, `{kind: Deployment, name: ${f.target}, `);
  return document(
    'MigrationPolicy',
    f,
    [`source: {kind: Deployment, name: ${f.source}}`, `target: ${target}`],
    [...(f.base !== undefined ? [`base: ${f.base}`] : []), ...(f.capacity ? [`capacity: ${f.capacity}`] : [])],
  );
}

/** Documents as one YAML stream. */
export const yamlStream = (...docs: readonly string[]): string => docs.join('---\n');

export const asScaling = (p: AnyPolicy | undefined): ScalingPolicy => {
  if (p?.kind !== 'ScalingPolicy') throw new Error(`not a ScalingPolicy: ${p?.kind}`);
  return p;
};
export const asMigration = (p: AnyPolicy | undefined): MigrationPolicy => {
  if (p?.kind !== 'MigrationPolicy') throw new Error(`not a MigrationPolicy: ${p?.kind}`);
  return p;
};

// A policy document as a user writes it: the envelope around spec fields given as YAML values.
export type PolicyKindName = 'ScalingPolicy' | 'MigrationPolicy' | 'GovernancePolicy';

/** One YAML document; `spec` maps each field to its YAML (flow) value, in order. No namespace: cluster-scoped. */
export function policyYaml(kind: PolicyKindName, name: string, namespace: string | undefined, spec: Readonly<Record<string, string>>): string {
  const fields = Object.entries(spec).map(([k, v]) => `  ${k}: ${v}\n`);
  return `apiVersion: governor.io/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}${namespace !== undefined ? `, namespace: ${namespace}` : ''}}\nspec:\n${fields.join('')}`;
}
