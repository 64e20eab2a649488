// Rule families "labels", "annotations" and the tag half of "migration": defaults (value or namespace) and copies into pod templates, then required, forbidden, allowed, pattern, key wildcards.
import { isValidLabelValue } from '../common/labels.js';
import type { CompiledTagRule, GovernancePolicy, RuleName } from '../policy/governance-policy.js';
import { conditionHolds } from './conditions.js';
import { isRecord, type Path, type PatchRecorder } from './json-patch.js';
import { quoteValue } from './result.js';
import { checkDeadline, type Finding, type Target } from './types.js';

export type TagField = 'labels' | 'annotations';

const METADATA: Path = ['metadata'];

const RULES: Record<CompiledTagRule['family'], { default: RuleName; require: RuleName; values: RuleName; forbidden: RuleName }> = {
  labels: { default: 'default-labels', require: 'require-labels', values: 'label-values', forbidden: 'forbidden-labels' },
  annotations: { default: 'default-annotations', require: 'require-annotations', values: 'annotation-values', forbidden: 'forbidden-annotations' },
  migration: { default: 'default-migration-labels', require: 'require-migration-labels', values: 'migration-label-values', forbidden: 'forbidden-labels' },
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

function has(map: Record<string, unknown> | undefined, key: string): boolean {
  return map !== undefined && Object.prototype.hasOwnProperty.call(map, key) && map[key] !== undefined && map[key] !== null;
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

/** A pod controller: its own metadata and its pod template's are two places (a Pod, or a kind with no pod spec, has one). */
function templateOf(t: Target): Path | undefined {
  return t.location && !t.location.isPod ? t.location.metadata : undefined;
}

/**
 * The path of one key of a metadata map, `at` reused for every key of that map: `at` is `base`, the field and a free
 * last segment (made on the first edit). The recorder reads a path and keeps nothing of it.
 */
class KeyPath {
  private at: (string | number)[] | undefined;

  constructor(
    private readonly base: Path,
    private readonly field: TagField,
  ) {}

  of(key: string): Path {
    const at = (this.at ??= [...this.base, this.field, '']);
    at[at.length - 1] = key;
    return at;
  }
}

/** Writes the rule's default (fromNamespace first) at `at` when absent there, or when it differs and the rule overwrites. */
function fill(r: CompiledTagRule, t: Target, field: TagField, rec: PatchRecorder, at: KeyPath, map: Record<string, unknown> | undefined): boolean {
  const cur = map?.[r.key];
  const present = has(map, r.key);
  if (present && !r.overwrite) return false;
  const value = (r.fromNamespace ? fromNamespace(t, field, r.key) : undefined) ?? r.default;
  if (value === undefined) return false;
  if (!present) return rec.addIfAbsent(at.of(r.key), value);
  return cur !== value && rec.replace(at.of(r.key), value);
}

/**
 * default-labels / default-annotations / default-migration-labels. Where the rule applies (its target): fills
 * absent keys (fromNamespace first, then default; `overwrite` replaces a value that differs). Between the object's
 * defaults and the template's, a rule with copyToPodTemplate copies the object's value into the pod template where
 * absent there. Validation-only rules change nothing.
 */
export function mutateTags(policy: GovernancePolicy, field: TagField, t: Target, rec: PatchRecorder, allowed: (rule: RuleName) => boolean, templateMutable: boolean): void {
  const all = rulesOf(policy, field);
  const rules = allowed === ALL_ALLOWED ? all : all.filter((r) => allowed(RULES[r.family].default));
  const template = templateOf(t);
  // Read again only after an edit: the recorder copies a map when it first edits it.
  let own = metadataMap(rec.doc, METADATA, field);
  const ownPath = new KeyPath(METADATA, field);
  for (const r of rules) {
    if ((r.default === undefined && !r.fromNamespace) || !conditionHolds(r.when, t)) continue;
    if (template && !r.onObject) continue;
    if (fill(r, t, field, rec, ownPath, own)) own = metadataMap(rec.doc, METADATA, field);
  }
  if (!template || !templateMutable) return;
  let inTemplate = metadataMap(rec.doc, template, field);
  const templatePath = new KeyPath(template, field);
  for (const r of rules) {
    if (!r.copyToPodTemplate || !own || !conditionHolds(r.when, t)) continue;
    if (!r.wildcard) {
      const v = stringValue(own, r.key);
      // Present in the template already: the recorder would not overwrite it, so skip the call.
      if (v !== undefined && !has(inTemplate, r.key) && rec.addIfAbsent(templatePath.of(r.key), v)) inTemplate = metadataMap(rec.doc, template, field);
      continue;
    }
    for (const key of Object.keys(own).filter((k) => r.wildcard!.test(k))) {
      const v = stringValue(own, key);
      if (v === undefined || has(inTemplate, key)) continue;
      if (rec.addIfAbsent(templatePath.of(key), v)) inTemplate = metadataMap(rec.doc, template, field);
    }
  }
  for (const r of rules) {
    if (!r.onTemplate || (r.default === undefined && !r.fromNamespace) || !conditionHolds(r.when, t)) continue;
    if (fill(r, t, field, rec, templatePath, inTemplate)) inTemplate = metadataMap(rec.doc, template, field);
  }
}

function hint(r: CompiledTagRule): string {
  if (r.allowed) return ` (one of ${r.allowed.join(', ')})`;
  if (r.pattern) return ` (matching ${r.pattern.source})`;
  return '';
}

function valueOk(r: CompiledTagRule, v: string): boolean {
  if (r.forbiddenValues && r.forbiddenValues.includes(v)) return false;
  return r.allowed ? r.allowed.includes(v) : r.pattern ? r.pattern.test(v) : true;
}

function checkValue(r: CompiledTagRule, v: string, path: Path, out: Finding[]): void {
  const rule = RULES[r.family].values;
  // The value is the user's (up to 256 KiB for an annotation): quoted clipped, compared whole on UPDATE.
  if (r.forbiddenValues?.includes(v)) out.push({ rule, path, message: `must not be ${quoteValue(v)}`, value: v });
  else if (r.allowed && !r.allowed.includes(v)) out.push({ rule, path, message: `must be one of ${r.allowed.join(', ')} (is ${quoteValue(v)})`, value: v });
  else if (r.pattern && !r.pattern.test(v)) out.push({ rule, path, message: `must match ${r.pattern.source} (is ${quoteValue(v)})`, value: v });
}

/** One rule on one metadata map (`base`: the object's metadata or the pod template's). */
function checkRule(r: CompiledTagRule, field: TagField, map: Record<string, unknown> | undefined, base: Path, t: Target, out: Finding[]): void {
  if (r.wildcard) return checkWildcard(r, field, map, base, t, out);
  if (r.forbidden) {
    if (has(map, r.key)) out.push({ rule: RULES[r.family].forbidden, path: [...base, field, r.key], message: 'is forbidden', value: map![r.key] });
    return;
  }
  const v = stringValue(map, r.key);
  if (v === undefined || v === '') {
    if (r.required) out.push({ rule: RULES[r.family].require, path: [...base, field, r.key], message: v === undefined ? `is required${hint(r)}` : `must not be empty${hint(r)}`, ...(v === undefined ? {} : { value: v }) });
    if (v === undefined || r.required) return;
  }
  if (!valueOk(r, v)) checkValue(r, v, [...base, field, r.key], out);
}

/** A wildcard key: every present key it matches is checked; required means at least one with a non-empty value. */
function checkWildcard(r: CompiledTagRule, field: TagField, map: Record<string, unknown> | undefined, base: Path, t: Target, out: Finding[]): void {
  const w = r.wildcard!;
  let found = false;
  if (map) {
    let step = 0;
    for (const key of Object.keys(map)) {
      checkDeadline(t.deadline, step++);
      if (!w.test(key)) continue;
      const v = map[key];
      if (v === undefined || v === null) continue;
      if (r.forbidden) {
        out.push({ rule: RULES[r.family].forbidden, path: [...base, field, key], message: `is forbidden (${r.key})`, value: v });
        continue;
      }
      if (r.allowedKeys && !r.allowedKeys.some((p) => p.test(key))) {
        out.push({ rule: RULES[r.family].forbidden, path: [...base, field, key], message: `is not an allowed key under ${r.key} (allowed: ${r.allowedKeys.map((p) => p.text).join(', ')})`, value: v });
        continue;
      }
      if (typeof v !== 'string') continue;
      if (v !== '') found = true;
      if (!valueOk(r, v)) checkValue(r, v, [...base, field, key], out);
    }
  }
  if (r.required && !found) out.push({ rule: RULES[r.family].require, path: [...base, field, r.key], message: `needs at least one key matching ${r.key} with a non-empty value${hint(r)}` });
}

/**
 * require-*, *-values and forbidden-* where each rule applies (its target: the object's metadata, the pod template's,
 * or both; a Pod and a kind without a pod spec have one). Findings go into `out` (returned); paths are built only
 * for findings: this runs for every policy on every review.
 */
export function validateTags(policy: GovernancePolicy, field: TagField, t: Target, out: Finding[] = []): Finding[] {
  const template = templateOf(t);
  const own = metadataMap(t.obj, METADATA, field);
  const inTemplate = template ? metadataMap(t.obj, template, field) : undefined;
  for (const r of rulesOf(policy, field)) {
    if (!conditionHolds(r.when, t)) continue;
    if (!template || r.onObject) checkRule(r, field, own, METADATA, t, out);
    if (template && r.onTemplate) checkRule(r, field, inTemplate, template, t, out);
  }
  return out;
}
