// Rule families "labels", "annotations" and the tag half of "migration": defaults (value or namespace), then required, allowed, pattern.
import { isValidLabelValue } from '../common/labels.js';
import type { CompiledTagRule, GovernancePolicy, RuleName } from '../policy/governance-policy.js';
import { conditionHolds } from './conditions.js';
import { isRecord, type Path, type PatchRecorder } from './json-patch.js';
import { quoteValue } from './result.js';
import type { Finding, Target } from './types.js';

export type TagField = 'labels' | 'annotations';

const METADATA: Path = ['metadata'];

const RULES: Record<CompiledTagRule['family'], { default: RuleName; require: RuleName; values: RuleName }> = {
  labels: { default: 'default-labels', require: 'require-labels', values: 'label-values' },
  annotations: { default: 'default-annotations', require: 'require-annotations', values: 'annotation-values' },
  migration: { default: 'default-migration-labels', require: 'require-migration-labels', values: 'migration-label-values' },
};

/** The `allowed` of a policy without exceptions: every rule applies (mutateTags then skips filtering its rules). */
export const ALL_ALLOWED = (_rule: RuleName): boolean => true;

export function metadataMap(obj: unknown, metadataPath: Path, field: TagField): Record<string, unknown> | undefined {
  let cur: unknown = obj;
  for (const seg of metadataPath) cur = isRecord(cur) ? cur[seg as string] : undefined;
  const m = isRecord(cur) ? cur[field] : undefined;
  return isRecord(m) ? m : undefined;
}

export function stringValue(map: Record<string, unknown> | undefined, key: string): string | undefined {
  const v = map?.[key];
  return typeof v === 'string' ? v : undefined;
}

/** The namespace's value for fromNamespace: same kind of map first (labels for a label), then the other. */
function fromNamespace(t: Target, field: TagField, key: string): string | undefined {
  const { labels, annotations } = t.namespaceInfo;
  const first = field === 'labels' ? labels[key] : annotations[key];
  if (typeof first === 'string' && (field === 'annotations' || isValidLabelValue(first))) return first;
  const second = field === 'labels' ? annotations[key] : labels[key];
  if (typeof second === 'string' && (field === 'annotations' || isValidLabelValue(second))) return second;
  return undefined;
}

function rulesOf(policy: GovernancePolicy, field: TagField): readonly CompiledTagRule[] {
  return field === 'labels' ? policy.labels : policy.annotations;
}

/**
 * default-labels / default-annotations / default-migration-labels: fills absent keys on the object's metadata
 * (fromNamespace first, then default), then copies every governed key the object carries into the pod template's
 * metadata when absent there, so pods carry the workload's migration labels and compliance tags too.
 */
export function mutateTags(policy: GovernancePolicy, field: TagField, t: Target, rec: PatchRecorder, allowed: (rule: RuleName) => boolean, templateMutable: boolean): void {
  const all = rulesOf(policy, field);
  const rules = allowed === ALL_ALLOWED ? all : all.filter((r) => allowed(RULES[r.family].default));
  // Read again only after an edit: the recorder copies a map when it first edits it.
  let own = metadataMap(rec.doc, METADATA, field);
  for (const r of rules) {
    if ((r.default === undefined && !r.fromNamespace) || !conditionHolds(r.when, t)) continue;
    if (stringValue(own, r.key) !== undefined) continue;
    const value = (r.fromNamespace ? fromNamespace(t, field, r.key) : undefined) ?? r.default;
    if (value !== undefined && rec.addIfAbsent(['metadata', field, r.key], value)) own = metadataMap(rec.doc, METADATA, field);
  }
  if (t.location.isPod || !templateMutable) return;
  const template = metadataMap(rec.doc, t.location.metadata, field);
  for (const r of rules) {
    if (!conditionHolds(r.when, t)) continue;
    const v = stringValue(own, r.key);
    // Present in the template already: the recorder would not overwrite it, so skip building the path.
    if (v === undefined || (template?.[r.key] !== undefined && template[r.key] !== null && Object.prototype.hasOwnProperty.call(template, r.key))) continue;
    rec.addIfAbsent([...t.location.metadata, field, r.key], v);
  }
}

function hint(r: CompiledTagRule): string {
  if (r.allowed) return ` (one of ${r.allowed.join(', ')})`;
  if (r.pattern) return ` (matching ${r.pattern.source})`;
  return '';
}

function checkValue(r: CompiledTagRule, v: string, path: Path, out: Finding[]): void {
  const rule = RULES[r.family].values;
  // The value is the user's (up to 256 KiB for an annotation): quoted clipped, compared whole on UPDATE.
  if (r.allowed && !r.allowed.includes(v)) out.push({ rule, path, message: `must be one of ${r.allowed.join(', ')} (is ${quoteValue(v)})`, value: v });
  else if (r.pattern && !r.pattern.test(v)) out.push({ rule, path, message: `must match ${r.pattern.source} (is ${quoteValue(v)})`, value: v });
}


/**
 * require-* and *-values on the object's metadata; *-values also on the pod template's values when present. Findings
 * go into `out` (returned); paths are built only for findings: this runs for every policy on every review.
 */
export function validateTags(policy: GovernancePolicy, field: TagField, t: Target, out: Finding[] = []): Finding[] {
  const own = metadataMap(t.obj, METADATA, field);
  const template = t.location.isPod ? undefined : metadataMap(t.obj, t.location.metadata, field);
  for (const r of rulesOf(policy, field)) {
    if (!conditionHolds(r.when, t)) continue;
    const v = stringValue(own, r.key);
    if (v === undefined) {
      if (r.required) out.push({ rule: RULES[r.family].require, path: ['metadata', field, r.key], message: `is required${hint(r)}` });
    } else if (!valueOk(r, v)) checkValue(r, v, ['metadata', field, r.key], out);
    const tv = stringValue(template, r.key);
    if (tv !== undefined && !valueOk(r, tv)) checkValue(r, tv, [...t.location.metadata, field, r.key], out);
  }
  return out;
}

function valueOk(r: CompiledTagRule, v: string): boolean {
  return r.allowed ? r.allowed.includes(v) : r.pattern ? r.pattern.test(v) : true;
}
