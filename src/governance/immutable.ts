// immutable-labels / immutable-annotations: on UPDATE a key marked `immutable` keeps the stored object's value,
// except for the changes its `transitions` list.
import { ANY_VALUE, type CompiledTagRule, type CompiledTransition, type GovernancePolicy } from '../policy/governance-policy.js';
import { conditionHolds } from './conditions.js';
import { isRecord, type Path } from './json-patch.js';
import { quoteValue } from './result.js';
import type { Finding, Target } from './types.js';

type TagField = 'labels' | 'annotations';

const METADATA: Path = ['metadata'];

function mapAt(obj: unknown, base: Path, field: TagField): Record<string, unknown> | undefined {
  let cur: unknown = obj;
  for (const seg of base) cur = isRecord(cur) ? cur[seg as string] : undefined;
  const map = isRecord(cur) ? cur[field] : undefined;
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
 * The immutable keys of `policy` compared with the stored object's, where each rule applies (its target, as the
 * other tag rules): the object's own metadata and/or a pod controller's pod template (a Pod, and a kind without a pod
 * template, has one metadata). Only on UPDATE with the stored object at hand; a key whose `when` does not hold is not
 * compared.
 */
export function validateImmutable(policy: GovernancePolicy, field: TagField, t: Target, oldObject: Record<string, unknown>, out: Finding[] = []): Finding[] {
  const rules: readonly CompiledTagRule[] = field === 'labels' ? policy.labels : policy.annotations;
  const template = t.location && !t.location.isPod ? t.location.metadata : undefined;
  for (const r of rules) {
    if (!r.immutable || !conditionHolds(r.when, t)) continue;
    if (!template || r.onObject) compare(r, field, METADATA, t.obj, oldObject, out);
    if (template && r.onTemplate) compare(r, field, template, t.obj, oldObject, out);
  }
  return out;
}

function compare(r: CompiledTagRule, field: TagField, base: Path, now: unknown, old: unknown, out: Finding[]): void {
  const a = valueOf(mapAt(old, base, field), r.key);
  const b = valueOf(mapAt(now, base, field), r.key);
  if (a === b || transitionAllowed(r.immutable!.transitions, a, b)) return;
  out.push({ rule: field === 'labels' ? 'immutable-labels' : 'immutable-annotations', path: [...base, field, r.key], message: describe(a, b), value: b });
}
