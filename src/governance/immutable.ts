// immutable-labels / immutable-annotations: on UPDATE a key marked `immutable` keeps the stored object's value,
// except for the changes its `transitions` list.
import { ANY_VALUE, type CompiledTagRule, type CompiledTransition, type GovernancePolicy } from '../policy/governance-policy.js';
import { conditionHolds } from './conditions.js';
import { isRecord, type Path } from './json-patch.js';
import { quoteValue } from './result.js';
import type { Finding, Target } from './types.js';

type TagField = 'labels' | 'annotations';

const METADATA: Path = ['metadata'];

function ownMap(obj: unknown, field: TagField): Record<string, unknown> | undefined {
  const m = isRecord(obj) ? obj.metadata : undefined;
  const map = isRecord(m) ? m[field] : undefined;
  return isRecord(map) ? map : undefined;
}

/** The key's value, or undefined when absent (null counts as absent, as the API server drops it). */
function valueOf(map: Record<string, unknown> | undefined, key: string): unknown {
  if (!map || !Object.prototype.hasOwnProperty.call(map, key)) return undefined;
  const v = map[key];
  return v === null ? undefined : v;
}

function side(written: string | undefined, v: unknown): boolean {
  if (written === undefined) return v === undefined;
  if (written === ANY_VALUE) return v !== undefined;
  return v === written;
}

/** Whether a transition allows going from `before` to `after` (undefined: absent). */
export function transitionAllowed(transitions: readonly CompiledTransition[], before: unknown, after: unknown): boolean {
  return transitions.some((tr) => side(tr.from, before) && side(tr.to, after));
}

function describe(before: unknown, after: unknown): string {
  if (before === undefined) return `cannot be added by an update (is ${quoteValue(after)})`;
  if (after === undefined) return `cannot be removed by an update (was ${quoteValue(before)})`;
  return `cannot be changed by an update (was ${quoteValue(before)}, is ${quoteValue(after)})`;
}

/**
 * The immutable keys of `policy` on the object's own metadata compared with the stored object's. Only on UPDATE
 * with the stored object at hand; a key whose `when` does not hold is not compared.
 */
export function validateImmutable(policy: GovernancePolicy, field: TagField, t: Target, oldObject: Record<string, unknown>, out: Finding[] = []): Finding[] {
  const rules: readonly CompiledTagRule[] = field === 'labels' ? policy.labels : policy.annotations;
  let now: Record<string, unknown> | undefined | null = null;
  let before: Record<string, unknown> | undefined;
  for (const r of rules) {
    if (!r.immutable || !conditionHolds(r.when, t)) continue;
    if (now === null) {
      now = ownMap(t.obj, field);
      before = ownMap(oldObject, field);
    }
    const a = valueOf(before, r.key);
    const b = valueOf(now, r.key);
    if (a === b || transitionAllowed(r.immutable.transitions, a, b)) continue;
    out.push({ rule: field === 'labels' ? 'immutable-labels' : 'immutable-annotations', path: [...METADATA, field, r.key], message: describe(a, b), value: b });
  }
  return out;
}
