// Test helpers (ordinary code, used by tests and benchmarks): policies and objects from inline YAML, patches applied.
import { parse } from 'yaml';
import { parsePolicyText } from '../policy/parse.js';
import type { GovernancePolicy } from '../policy/governance-policy.js';
import { formatPolicyError } from '../policy/types.js';
import type { JsonPatchOp } from '../wire/json-patch-text.js';

/** Parses GovernancePolicy documents; throws with every error so a broken fixture is obvious. */
export function policiesFrom(text: string): GovernancePolicy[] {
  const r = parsePolicyText(text, 'inline.yaml');
  if (r.errors.length) throw new Error(r.errors.map(formatPolicyError).join('\n'));
  return r.policies.filter((p): p is GovernancePolicy => p.kind === 'GovernancePolicy');
}

/** One policy from the body of its spec (indented YAML under `spec:`). */
export function policy(name: string, specYaml: string): GovernancePolicy {
  const body = specYaml.replace(/^\n/, '');
  return policiesFrom(`apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: ${name}}\nspec:\n${body}`)[0]!;
}

export function yamlObject(text: string): Record<string, unknown> {
  return parse(text) as Record<string, unknown>;
}

/** Applies an RFC 6902 "add" patch the way the API server does: fails on a missing parent. */
export function applyAddPatch<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  const out = structuredClone(doc) as unknown;
  for (const op of ops) {
    const segs = op.path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    let cur: any = out;
    for (const s of segs.slice(0, -1)) {
      if (cur === null || typeof cur !== 'object' || !(s in cur)) throw new Error(`patch ${op.path}: missing parent ${s}`);
      cur = cur[s];
    }
    cur[segs.at(-1)!] = structuredClone(op.value);
  }
  return out as T;
}
