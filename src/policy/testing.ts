// For tests: a policy document as a user writes it, the envelope (apiVersion, kind, metadata) around spec fields given
// as YAML values, so a test states only the fields it is about.

export type PolicyKindName = 'ScalingPolicy' | 'MigrationPolicy' | 'GovernancePolicy';

/** One YAML document; `spec` maps each field to its YAML (flow) value, in order. No namespace: cluster-scoped. */
export function policyYaml(kind: PolicyKindName, name: string, namespace: string | undefined, spec: Readonly<Record<string, string>>): string {
  const fields = Object.entries(spec).map(([k, v]) => `  ${k}: ${v}\n`);
  return `apiVersion: governor.io/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}${namespace !== undefined ? `, namespace: ${namespace}` : ''}}\nspec:\n${fields.join('')}`;
}
