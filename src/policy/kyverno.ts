// Translation of Kyverno ClusterPolicy/Policy rules into GovernancePolicy documents (`governor convert kyverno`): pure,
// one rule at a time; a rule with anything that has no exact equivalent is refused with the reason, never dropped or
// approximated.
import { parse as parseYaml } from 'yaml';
import { globMatch } from './governance-policy.js';

/** A Kyverno rule that was not translated, and why. */
export interface Refusal {
  /** `ClusterPolicy/<name>` or `Policy/<namespace>/<name>`. */
  readonly policy: string;
  readonly rule: string;
  readonly reason: string;
}

/** One GovernancePolicy document (apiVersion governor.io/v1alpha1), as plain data ready to print. */
export interface GovernancePolicyDocument {
  readonly apiVersion: 'governor.io/v1alpha1';
  readonly kind: 'GovernancePolicy';
  readonly metadata: { readonly name: string; readonly annotations: Record<string, string> };
  readonly spec: Record<string, unknown>;
}

export interface Conversion {
  readonly policies: GovernancePolicyDocument[];
  readonly refused: Refusal[];
}

/** Annotations a converted policy carries: where it came from (so reports can be matched to Kyverno's rule names). */
export const KYVERNO_POLICY_ANNOTATION = 'governor.io/kyverno-policy';
export const KYVERNO_RULE_ANNOTATION = 'governor.io/kyverno-rule';
export const KYVERNO_MESSAGE_ANNOTATION = 'governor.io/kyverno-message';

/** Whether a parsed document is a Kyverno ClusterPolicy or Policy (kyverno.io/v1, v2beta1, ...). */
export function isKyvernoPolicy(doc: unknown): boolean {
  return isRecord(doc) && typeof doc.apiVersion === 'string' && /^kyverno\.io\//.test(doc.apiVersion) && (doc.kind === 'ClusterPolicy' || doc.kind === 'Policy');
}

/** The document is a Kyverno policy but not a readable one (no name, no rules list): an input error, not a refusal. */
export class KyvernoInputError extends Error {
  override name = 'KyvernoInputError';
}

/** A rule part with no exact equivalent; caught per rule and reported as a Refusal. */
class Refused extends Error {
  override name = 'Refused';
}

const refuse = (reason: string): never => {
  throw new Refused(reason);
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const POD_CONTROLLERS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob'];
const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

// ---------------------------------------------------------------- anchors

type Anchor = 'plain' | 'optional' | 'negation' | 'condition' | 'existence' | 'global' | 'add-if-absent' | 'equality';

/** Kyverno's anchors on a pattern key: =(k) optional, X(k) negation, (k) condition, ^(k) existence, <(k) global, +(k) add if absent. */
export function parseAnchor(key: string): { anchor: Anchor; key: string } {
  const m = /^(=|X|\^|<|\+)?\((.*)\)$/.exec(key);
  if (!m) return { anchor: 'plain', key };
  const a = m[1];
  const anchor: Anchor = a === '=' ? 'optional' : a === 'X' ? 'negation' : a === '^' ? 'existence' : a === '<' ? 'global' : a === '+' ? 'add-if-absent' : 'condition';
  return { anchor, key: m[2]! };
}

const hasWildcard = (s: string) => s.includes('*') || s.includes('?');
const isAnyValue = (v: unknown) => v === '*' || v === '?*' || v === '*?';
const isNonEmptyValue = (v: unknown) => v === '?*' || v === '*?';

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

/** A Kyverno wildcard (* any run, ? one character) as an anchored RE2 alternative. */
function wildcardRegex(s: string): string {
  let out = '';
  for (const c of s) out += c === '*' ? '.*' : c === '?' ? '.' : escapeRegex(c);
  return out;
}

function noVariables(v: string, where: string): void {
  if (v.includes('{{')) refuse(`${where}: "${v}" uses a Kyverno variable or JMESPath expression; only literal values translate`);
}

// ---------------------------------------------------------------- label/annotation values

interface TagRule {
  required?: boolean;
  forbidden?: boolean;
  allowed?: string[];
  forbiddenValues?: string[];
  pattern?: string;
  default?: string;
  overwrite?: boolean;
  when?: Record<string, unknown>;
}

/**
 * The value side of a label/annotation pattern: literals (`allowed`), wildcards (`pattern`), `a | b` alternatives,
 * `!v` (`forbiddenValues`). Numeric comparisons and ranges have no tag-rule equivalent.
 */
function valueRule(v: unknown, where: string): TagRule {
  if (typeof v !== 'string') return refuse(`${where}: the pattern value ${JSON.stringify(v)} is not a string (label and annotation values are strings; quote it)`);
  noVariables(v, where);
  if (v.includes('&')) refuse(`${where}: "${v}" uses Kyverno's & operator`);
  if (/^\s*(>=|<=|>|<)/.test(v) || /^[-+]?\d[\d.]*[a-zA-Z]*!?-[-+]?\d/.test(v)) refuse(`${where}: "${v}" is a numeric comparison or range; tag rules compare strings`);
  const alternatives = v.split('|').map((s) => s.trim());
  if (alternatives.length === 1 && alternatives[0]!.startsWith('!')) {
    const neg = alternatives[0]!.slice(1);
    if (hasWildcard(neg)) refuse(`${where}: "${v}" negates a wildcard; only exact forbidden values translate (forbiddenValues)`);
    return { forbiddenValues: [neg] };
  }
  if (alternatives.some((a) => a.startsWith('!'))) refuse(`${where}: "${v}" mixes ! with |`);
  if (alternatives.some((a) => a === '')) refuse(`${where}: "${v}" has an empty alternative`);
  if (alternatives.length === 1 && isNonEmptyValue(alternatives[0])) return {};
  if (alternatives.every((a) => !hasWildcard(a))) return { allowed: alternatives };
  return { pattern: `^(?:${alternatives.map(wildcardRegex).join('|')})$` };
}

/** The labels or annotations map of a validate pattern: one tag rule per key. */
function tagPattern(map: unknown, mapAnchor: Anchor, field: string): Record<string, TagRule> {
  const where = `metadata.${field}`;
  if (!isRecord(map)) return refuse(`${where} in the pattern is not a map`);
  if (mapAnchor !== 'plain' && mapAnchor !== 'optional') refuse(`${where}: the ${mapAnchor} anchor on the map has no equivalent`);
  const out: Record<string, TagRule> = {};
  for (const [raw, value] of Object.entries(map)) {
    const { anchor, key } = parseAnchor(raw);
    const at = `${where}.${raw}`;
    noVariables(key, at);
    if (anchor === 'negation') {
      // X(key): the key must be absent whatever the value written beside it.
      out[key] = { forbidden: true };
    } else if (anchor === 'optional') {
      if (isAnyValue(value)) {
        if (value === '*') continue; // =(k): "*" constrains nothing
        out[key] = { pattern: '^.+$' };
      } else out[key] = valueRule(value, at);
    } else if (anchor === 'plain') {
      if (mapAnchor === 'optional') refuse(`${at}: required only when the object has ${field} at all (=(${field})); write ${field} without =() to require the key`);
      if (value === '*') refuse(`${at}: "*" accepts a present but empty value; required: true refuses an empty value (write "?*" for a non-empty one)`);
      out[key] = { required: true, ...valueRule(value, at) };
    } else refuse(`${at}: the ${anchor} anchor has no equivalent in a validate pattern`);
  }
  return out;
}

// ---------------------------------------------------------------- container resources

interface ResourcesRule {
  require: string[];
  forbid: string[];
  defaults?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

/** `resources: {requests: {cpu: "?*"}}` → require; `=(resources): {=(limits): {X(cpu): null}}` → forbid. */
function containerResources(value: unknown, anchor: Anchor, where: string): ResourcesRule {
  if (!isRecord(value)) return refuse(`${where} is not a map`);
  if (anchor !== 'plain' && anchor !== 'optional') refuse(`${where}: the ${anchor} anchor has no equivalent`);
  const out: ResourcesRule = { require: [], forbid: [] };
  for (const [raw, section] of Object.entries(value)) {
    const s = parseAnchor(raw);
    const at = `${where}.${raw}`;
    if (s.key !== 'requests' && s.key !== 'limits') refuse(`${at}: only requests and limits translate`);
    if (s.anchor !== 'plain' && s.anchor !== 'optional') refuse(`${at}: the ${s.anchor} anchor has no equivalent`);
    if (!isRecord(section)) refuse(`${at} is not a map`);
    let requires = 0;
    for (const [rk, rv] of Object.entries(section as Record<string, unknown>)) {
      const r = parseAnchor(rk);
      const path = `${s.key}.${r.key}`;
      noVariables(r.key, `${at}.${rk}`);
      if (hasWildcard(r.key)) refuse(`${at}.${rk}: a wildcard resource name has no equivalent`);
      if (r.anchor === 'negation') out.forbid.push(path);
      else if (r.anchor === 'plain') {
        if (typeof rv === 'string') noVariables(rv, `${at}.${rk}`);
        if (!isAnyValue(rv)) refuse(`${at}.${rk}: "${String(rv)}" compares the quantity; only presence ("?*") translates (require)`);
        if (anchor === 'optional' || s.anchor === 'optional') refuse(`${at}.${rk}: required only when the container has ${s.anchor === 'optional' ? s.key : 'resources'} at all; write it without =() to require it`);
        out.require.push(path);
        requires++;
      } else if (r.anchor === 'optional') {
        if (!isAnyValue(rv)) refuse(`${at}.${rk}: "${String(rv)}" compares the quantity when present; no equivalent`);
      } else refuse(`${at}.${rk}: the ${r.anchor} anchor has no equivalent`);
    }
    // A plain `limits:` with only X(cpu) inside also demands that limits exist: not a forbid alone.
    if (s.anchor === 'plain' && requires === 0) refuse(`${at}: the pattern requires ${s.key} to exist without naming a resource in it`);
  }
  if (anchor === 'plain' && out.require.length === 0) refuse(`${where}: the pattern requires resources to exist without requiring a resource in it`);
  return out;
}

/** One container element of a pattern or an overlay: `(name): "*"` plus `resources`. */
function containerElement(list: unknown, where: string, mutate: boolean): ResourcesRule {
  if (!Array.isArray(list) || list.length !== 1 || !isRecord(list[0])) return refuse(`${where}: expected a list with one container pattern`);
  let out: ResourcesRule = { require: [], forbid: [] };
  for (const [raw, v] of Object.entries(list[0])) {
    const { anchor, key } = parseAnchor(raw);
    const at = `${where}[0].${raw}`;
    if (key === 'name') {
      // (name): "*" holds for every container; foreach's (name): "{{element.name}}" picks the element itself.
      const every = (anchor === 'condition' || anchor === 'optional' || anchor === 'plain') && (v === '*' || v === '?*' || (mutate && typeof v === 'string' && /^\{\{\s*element\.name\s*\}\}$/.test(v)));
      if (!every) refuse(`${at}: a rule for containers of a given name has no equivalent`);
    } else if (key === 'resources') out = mutate ? resourceDefaults(v, anchor, at) : containerResources(v, anchor, at);
    else refuse(`${at}: container field ${key} is not a resource (other container fields have no equivalent; CEL in spec.validations may express it)`);
  }
  return out;
}

/** `resources: {requests: {+(memory): 100Mi}}` in an overlay → defaults (added only when absent). */
function resourceDefaults(value: unknown, anchor: Anchor, where: string): ResourcesRule {
  if (!isRecord(value) || anchor !== 'plain') return refuse(`${where}: expected a plain resources map`);
  const defaults: { requests?: Record<string, string>; limits?: Record<string, string> } = {};
  for (const [raw, section] of Object.entries(value)) {
    const s = parseAnchor(raw);
    if ((s.key !== 'requests' && s.key !== 'limits') || s.anchor !== 'plain' || !isRecord(section)) refuse(`${where}.${raw}: only requests and limits maps translate`);
    const map: Record<string, string> = {};
    for (const [rk, rv] of Object.entries(section as Record<string, unknown>)) {
      const r = parseAnchor(rk);
      if (r.anchor === 'plain') refuse(`${where}.${raw}.${rk}: the overlay replaces a value that is set; resource defaults only fill absent values (write +(${r.key}))`);
      if (r.anchor !== 'add-if-absent') refuse(`${where}.${raw}.${rk}: the ${r.anchor} anchor has no equivalent`);
      if (typeof rv !== 'string' && typeof rv !== 'number') refuse(`${where}.${raw}.${rk}: not a quantity`);
      noVariables(String(rv), `${where}.${raw}.${rk}`);
      map[r.key] = String(rv);
    }
    defaults[s.key as 'requests' | 'limits'] = map;
  }
  return { require: [], forbid: [], defaults };
}

// ---------------------------------------------------------------- conditions on volumes

/** `(volumes): [{(hostPath): {path: P}}]` (validate) or `volumes: [{<(emptyDir): {}}]` (mutate) → when. */
function volumeCondition(list: unknown, where: string, mutate: boolean): Record<string, string[]> {
  if (!Array.isArray(list) || list.length !== 1 || !isRecord(list[0])) return refuse(`${where}: expected a list with one volume condition`);
  const entries = Object.entries(list[0]);
  if (entries.length !== 1) refuse(`${where}: expected one volume type`);
  const [raw, v] = entries[0]!;
  const { anchor, key } = parseAnchor(raw);
  // A condition is written (k) in a pattern and <(k) in an overlay; a plain key is a condition only with one inside.
  const cond: Anchor = mutate ? 'global' : 'condition';
  if (anchor !== cond && anchor !== 'plain') refuse(`${where}[0].${raw}: the ${anchor} anchor has no equivalent`);
  if (!/^[a-zA-Z]+$/.test(key)) refuse(`${where}[0].${raw}: not a volume type`);
  if (!isRecord(v)) refuse(`${where}[0].${raw}: expected a map`);
  const inner = Object.entries(v as Record<string, unknown>);
  if (inner.length === 0) {
    if (anchor === 'plain') refuse(`${where}[0].${raw}: no condition anchor`);
    return { volumeTypes: [key] };
  }
  if (key === 'hostPath' && inner.length === 1) {
    const [pk, pv] = inner[0]!;
    const p = parseAnchor(pk);
    if (p.key === 'path' && typeof pv === 'string' && (p.anchor === cond || (p.anchor === 'plain' && anchor === cond))) {
      noVariables(pv, `${where}[0].${raw}.${pk}`);
      return pv === '*' ? { volumeTypes: ['hostPath'] } : { hostPaths: [pv] };
    }
  }
  return refuse(`${where}[0].${raw}: only a volume type, or a hostPath path, translates to a condition`);
}

// ---------------------------------------------------------------- validate.pattern

interface RuleBody {
  labels?: Record<string, TagRule>;
  annotations?: Record<string, TagRule>;
  resources?: Record<string, unknown>;
  when?: Record<string, unknown>;
  validations?: unknown[];
  variables?: unknown[];
}

function containersRule(spec: Record<string, unknown>, where: string, mutate: boolean): { rule?: Record<string, unknown>; rest: Record<string, unknown> } {
  const found: Partial<Record<(typeof CONTAINER_LISTS)[number], { anchor: Anchor; r: ResourcesRule }>> = {};
  const rest: Record<string, unknown> = {};
  for (const [raw, v] of Object.entries(spec)) {
    const { anchor, key } = parseAnchor(raw);
    if ((CONTAINER_LISTS as readonly string[]).includes(key)) found[key as (typeof CONTAINER_LISTS)[number]] = { anchor, r: containerElement(v, `${where}.${raw}`, mutate) };
    else rest[raw] = v;
  }
  const c = found.containers;
  if (!c) {
    if (found.initContainers || found.ephemeralContainers) refuse(`${where}: a rule on init or ephemeral containers alone has no equivalent`);
    return { rest };
  }
  const same = (x: ResourcesRule | undefined) => JSON.stringify(x) === JSON.stringify(c.r);
  let containers: 'all' | 'any' = 'all';
  if (mutate) {
    if (c.anchor !== 'plain') refuse(`${where}.containers: the ${c.anchor} anchor has no equivalent in an overlay`);
  } else if (c.anchor === 'existence') containers = 'any';
  else if (c.anchor !== 'plain') refuse(`${where}.containers: the ${c.anchor} anchor has no equivalent`);
  for (const k of ['initContainers', 'ephemeralContainers'] as const) {
    const x = found[k];
    if (x && !same(x.r)) refuse(`${where}.${k}: a different rule for ${k} than for containers has no equivalent`);
    if (x && x.anchor !== 'optional' && !mutate) refuse(`${where}.${k}: required ${k} (without =()) has no equivalent`);
  }
  const rule: Record<string, unknown> = {};
  if (c.r.require.length) rule.require = c.r.require;
  if (c.r.forbid.length) rule.forbid = c.r.forbid;
  if (c.r.defaults) rule.defaults = c.r.defaults;
  if (containers === 'any') rule.containers = 'any';
  // governor checks and fills init containers with the same rule unless told not to; Kyverno only where the pattern
  // or overlay names them.
  if (!found.initContainers) rule.initContainers = false;
  return { rule, rest };
}

function validatePattern(pattern: unknown, where = 'pattern'): RuleBody {
  if (!isRecord(pattern)) return refuse(`${where} is not a map`);
  const body: RuleBody = {};
  for (const [raw, v] of Object.entries(pattern)) {
    const { anchor, key } = parseAnchor(raw);
    if (key === 'metadata') {
      if (!isRecord(v) || (anchor !== 'plain' && anchor !== 'optional')) refuse(`${where}.${raw}: expected a plain metadata map`);
      for (const [mraw, mv] of Object.entries(v as Record<string, unknown>)) {
        const m = parseAnchor(mraw);
        if (m.key === 'labels' || m.key === 'annotations') body[m.key] = tagPattern(mv, m.anchor, m.key);
        else refuse(`${where}.metadata.${mraw}: only labels and annotations translate (CEL in spec.validations may express it)`);
      }
    } else if (key === 'spec') {
      if (!isRecord(v)) refuse(`${where}.${raw} is not a map`);
      const spec = v as Record<string, unknown>;
      if (anchor === 'condition') {
        // (spec): {(volumes): [...]} — the rule applies only to pods with such a volume.
        for (const [sraw, sv] of Object.entries(spec)) {
          if (parseAnchor(sraw).key !== 'volumes') refuse(`${where}.(spec).${sraw}: only volume conditions translate`);
          body.when = mergeWhen(body.when, volumeCondition(sv, `${where}.(spec).${sraw}`, false));
        }
        continue;
      }
      if (anchor !== 'plain') refuse(`${where}.${raw}: the ${anchor} anchor has no equivalent`);
      const { rule, rest } = containersRule(spec, `${where}.spec`, false);
      if (rule) body.resources = rule;
      for (const [sraw, sv] of Object.entries(rest)) {
        const s = parseAnchor(sraw);
        if (s.key === 'volumes' && s.anchor === 'condition') body.when = mergeWhen(body.when, volumeCondition(sv, `${where}.spec.${sraw}`, false));
        else refuse(`${where}.spec.${sraw}: only container resources and volume conditions translate (CEL in spec.validations may express it)`);
      }
    } else refuse(`${where}.${raw}: only metadata.labels, metadata.annotations and spec container resources translate`);
  }
  if (!body.labels && !body.annotations && !body.resources) refuse(`${where}: nothing to check`);
  return body;
}

function mergeWhen(a: Record<string, unknown> | undefined, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(a ?? {}) };
  for (const [k, v] of Object.entries(b)) {
    if (out[k] !== undefined) refuse(`two conditions on ${k} (all must hold) have no equivalent (items of one condition are alternatives)`);
    out[k] = v;
  }
  return out;
}

// ---------------------------------------------------------------- mutate

function tagOverlay(map: unknown, anchor: Anchor, where: string): Record<string, TagRule> {
  if (!isRecord(map) || (anchor !== 'plain' && anchor !== 'add-if-absent')) return refuse(`${where}: expected a plain map`);
  const out: Record<string, TagRule> = {};
  for (const [raw, v] of Object.entries(map)) {
    const k = parseAnchor(raw);
    const at = `${where}.${raw}`;
    if (typeof v !== 'string') refuse(`${at}: ${v === null ? 'removing a key' : 'a value that is not a string'} has no equivalent`);
    noVariables(k.key, at);
    noVariables(v as string, at);
    if (hasWildcard(k.key)) refuse(`${at}: a default on a wildcard key has no equivalent`);
    // A plain key in a strategic merge patch replaces what is set; +(key) adds it only when absent.
    if (k.anchor === 'plain') out[k.key] = { default: v as string, overwrite: true };
    else if (k.anchor === 'add-if-absent') out[k.key] = { default: v as string };
    else refuse(`${at}: the ${k.anchor} anchor has no equivalent`);
  }
  return out;
}

function strategicMerge(patch: unknown, where: string): RuleBody {
  if (!isRecord(patch)) return refuse(`${where} is not a map`);
  const body: RuleBody = {};
  for (const [raw, v] of Object.entries(patch)) {
    const { anchor, key } = parseAnchor(raw);
    if (key === 'metadata' && anchor === 'plain' && isRecord(v)) {
      for (const [mraw, mv] of Object.entries(v)) {
        const m = parseAnchor(mraw);
        if (m.key === 'labels' || m.key === 'annotations') body[m.key] = tagOverlay(mv, m.anchor, `${where}.metadata.${mraw}`);
        else refuse(`${where}.metadata.${mraw}: only labels and annotations translate`);
      }
    } else if (key === 'spec' && anchor === 'plain' && isRecord(v)) {
      const { rule, rest } = containersRule(v, `${where}.spec`, true);
      if (rule) body.resources = rule;
      for (const [sraw, sv] of Object.entries(rest)) {
        if (parseAnchor(sraw).key === 'volumes') body.when = mergeWhen(body.when, volumeCondition(sv, `${where}.spec.${sraw}`, true));
        else refuse(`${where}.spec.${sraw}: only container resource defaults and volume conditions translate`);
      }
    } else refuse(`${where}.${raw}: only metadata labels/annotations and container resource defaults translate`);
  }
  if (!body.labels && !body.annotations && !body.resources) refuse(`${where}: nothing to set`);
  return body;
}

/** JSON patch ops: only `add` of one label or annotation (it replaces a value that is set: overwrite). */
function jsonPatches(text: unknown, where: string): RuleBody {
  let ops: unknown;
  try {
    ops = typeof text === 'string' ? parseYaml(text, { maxAliasCount: 10 }) : text;
  } catch (e) {
    return refuse(`${where}: not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!Array.isArray(ops) || ops.length === 0) return refuse(`${where}: expected a list of operations`);
  const body: RuleBody = {};
  ops.forEach((op, i) => {
    const at = `${where}[${i}]`;
    if (!isRecord(op) || typeof op.path !== 'string') return refuse(`${at}: not an operation`);
    const m = /^\/metadata\/(labels|annotations)\/([^/]+)$/.exec(op.path);
    if (op.op !== 'add' || !m) return refuse(`${at}: only "add" of /metadata/labels/<key> or /metadata/annotations/<key> translates (${String(op.op)} ${op.path})`);
    if (typeof op.value !== 'string') return refuse(`${at}: the value is not a string`);
    noVariables(op.value, at);
    const field = m[1] as 'labels' | 'annotations';
    const key = m[2]!.replace(/~1/g, '/').replace(/~0/g, '~');
    (body[field] ??= {})[key] = { default: op.value, overwrite: true };
  });
  return body;
}

/** mutate.foreach over the pod's containers with one strategic merge patch naming {{element.name}}. */
function mutateForeach(list: unknown, where: string): RuleBody {
  if (!Array.isArray(list) || list.length !== 1 || !isRecord(list[0])) return refuse(`${where}: only one foreach entry translates`);
  const f = list[0];
  const src = typeof f.list === 'string' ? f.list.replace(/\s+/g, '') : '';
  if (!/^request\.object\.spec\.(containers|\[(ephemeralContainers,|initContainers,)*containers\]\[\])$/.test(src) && !/^request\.object\.spec\.\[(ephemeralContainers|initContainers|containers)(,(ephemeralContainers|initContainers|containers))*\]\[\]$/.test(src))
    refuse(`${where}[0].list: only a list of the pod's containers translates ("${String(f.list)}")`);
  for (const k of Object.keys(f)) if (k !== 'list' && k !== 'patchStrategicMerge') refuse(`${where}[0].${k} has no equivalent`);
  const body = strategicMerge(f.patchStrategicMerge, `${where}[0].patchStrategicMerge`);
  if (body.labels || body.annotations || body.when) refuse(`${where}[0]: only container resource defaults translate inside foreach`);
  // The foreach list, not the patch inside it, says which containers are filled.
  if (body.resources) {
    if (src.includes('initContainers')) delete body.resources.initContainers;
    else body.resources.initContainers = false;
  }
  return body;
}

// ---------------------------------------------------------------- match, exclude, preconditions

interface Filter {
  kinds?: string[];
  namespaces?: string[];
  selector?: unknown;
  namespaceSelector?: unknown;
  operations?: string[];
  names?: string[];
}

const FILTER_FIELDS = ['kinds', 'namespaces', 'selector', 'namespaceSelector', 'operations', 'names', 'name'];

function resourceFilter(entry: unknown, where: string): Filter {
  if (!isRecord(entry)) return refuse(`${where} is not a map`);
  for (const k of ['subjects', 'roles', 'clusterRoles']) {
    if (entry[k] !== undefined) refuse(`${where}.${k}: matching on who sends the request has no equivalent (governor decides on the object)`);
  }
  for (const k of Object.keys(entry)) if (k !== 'resources') refuse(`${where}.${k} has no equivalent`);
  const r = entry.resources;
  if (!isRecord(r)) return refuse(`${where}.resources is missing`);
  for (const k of Object.keys(r)) if (!FILTER_FIELDS.includes(k)) refuse(`${where}.resources.${k}: matching on ${k} has no equivalent`);
  const out: Filter = {};
  if (Array.isArray(r.kinds)) out.kinds = r.kinds.map((k) => kindOf(k, `${where}.resources.kinds`));
  if (Array.isArray(r.namespaces)) out.namespaces = r.namespaces.map(String);
  if (r.selector !== undefined) out.selector = r.selector;
  if (r.namespaceSelector !== undefined) out.namespaceSelector = r.namespaceSelector;
  if (Array.isArray(r.operations)) out.operations = r.operations.map(String);
  const names = [...(Array.isArray(r.names) ? r.names.map(String) : []), ...(typeof r.name === 'string' ? [r.name] : [])];
  if (names.length) out.names = names;
  return out;
}

/** Kyverno's kind forms pass through (Kind, group/Kind, group/version/Kind); wildcards and subresources do not translate. */
function kindOf(k: unknown, where: string): string {
  if (typeof k !== 'string' || !k) return refuse(`${where}: not a kind`);
  if (k.includes('*') || k.includes('?')) refuse(`${where}: the wildcard kind "${k}" has no equivalent; list the kinds`);
  const parts = k.split('/');
  if (parts.length > 3 || (parts.length >= 2 && /^[A-Z]/.test(parts[parts.length - 2]!))) refuse(`${where}: "${k}" names a subresource; governor reviews objects, not subresources`);
  return k;
}

/** match: `resources` (old form), `any` (OR) or `all` (AND) of resource filters, reduced to one filter when equivalent. */
function matchFilter(m: unknown, where: string): Filter {
  if (!isRecord(m)) return refuse(`${where} is not a map`);
  const entries: { list: unknown[]; op: 'any' | 'all'; legacy: boolean }[] = [];
  if (m.resources !== undefined || m.subjects !== undefined || m.roles !== undefined || m.clusterRoles !== undefined) entries.push({ list: [m], op: 'all', legacy: true });
  if (Array.isArray(m.any)) entries.push({ list: m.any, op: 'any', legacy: false });
  if (Array.isArray(m.all)) entries.push({ list: m.all, op: 'all', legacy: false });
  if (entries.length !== 1) refuse(`${where}: expected exactly one of resources, any, all`);
  const { list, op, legacy } = entries[0]!;
  const filters = list.map((e, i) => resourceFilter(e, legacy ? where : `${where}.${op}[${i}]`));
  if (filters.length === 0) return refuse(`${where}: empty`);
  if (filters.length === 1) return filters[0]!;
  if (op === 'any') {
    // any of filters that differ only in their kinds is one filter with all the kinds.
    const rest = filters.map((f) => JSON.stringify({ ...f, kinds: undefined }));
    if (rest.every((r) => r === rest[0]) && filters.every((f) => f.kinds)) return { ...filters[0]!, kinds: [...new Set(filters.flatMap((f) => f.kinds!))] };
    return refuse(`${where}.any: alternatives that differ in more than their kinds have no equivalent (write one policy per alternative)`);
  }
  const out: Record<string, unknown> = {};
  for (const f of filters) {
    for (const [k, v] of Object.entries(f)) {
      if (out[k] !== undefined) refuse(`${where}.all: two filters on ${k} have no equivalent`);
      out[k] = v;
    }
  }
  return out as Filter;
}

/** exclude: one filter → spec.exclude; several alternatives → exceptions (namespace/name/kinds/selector each). */
function excludeOf(x: unknown, where: string, policy: string): { exclude?: Record<string, unknown>; exceptions?: Record<string, unknown>[] } {
  if (!isRecord(x)) return refuse(`${where} is not a map`);
  const alternatives = Array.isArray(x.any) && x.any.length > 1 && x.all === undefined && x.resources === undefined;
  if (!alternatives) {
    const f = matchFilter(x, where);
    if (f.operations) refuse(`${where}: excluding by operation has no equivalent`);
    if (f.names) refuse(`${where}: excluding by name works only as alternatives (exclude.any); no equivalent here`);
    return { exclude: filterFields(f) };
  }
  const exceptions: Record<string, unknown>[] = [];
  (x.any as unknown[]).forEach((e, i) => {
    const f = resourceFilter(e, `${where}.any[${i}]`);
    if (f.namespaceSelector || f.operations) refuse(`${where}.any[${i}]: an exception by namespaceSelector or operation has no equivalent`);
    const base: Record<string, unknown> = { ...(f.kinds ? { kinds: f.kinds } : {}), ...(f.selector ? { selector: f.selector } : {}) };
    const reason = `excluded by Kyverno policy ${policy} (${where}.any[${i}])`;
    for (const namespace of f.namespaces ?? [undefined]) {
      for (const name of f.names ?? [undefined]) exceptions.push({ ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}), ...base, reason });
    }
  });
  return { exceptions };
}

function filterFields(f: Filter): Record<string, unknown> {
  return {
    ...(f.kinds ? { kinds: f.kinds } : {}),
    ...(f.namespaces ? { namespaces: f.namespaces } : {}),
    ...(f.namespaceSelector !== undefined ? { namespaceSelector: f.namespaceSelector } : {}),
    ...(f.selector !== undefined ? { selector: f.selector } : {}),
  };
}

const OPERATION_KEY = /^\{\{\s*request\.operation\s*(\|\|\s*'BACKGROUND'\s*)?\}\}$/;

/** `{{ request.object.spec.volumes[?contains(keys(@), 'emptyDir')] || `[]` | length(@) }}` ≥ 1: the pod has such a volume. */
const VOLUME_KEY = /^\{\{\s*request\.object\.spec\.volumes\[\?\s*contains\(\s*keys\(@\)\s*,\s*'([A-Za-z]+)'\s*\)\s*\]\s*(\|\|\s*`\[\]`\s*)?\|\s*length\(@\)\s*\}\}$/;

/** One precondition: a set of operations, or a volume type the pod must have. */
function condition(c: unknown, at: string): { ops: Set<string> } | { volume: string } {
  if (!isRecord(c) || typeof c.key !== 'string') return refuse(`${at}: not a condition`);
  const key = c.key.trim();
  const op = String(c.operator);
  const vol = VOLUME_KEY.exec(key);
  if (vol) {
    const n = Number(c.value);
    if ((op === 'GreaterThanOrEquals' && n === 1) || (op === 'GreaterThan' && n === 0) || (op === 'NotEquals' && n === 0)) return { volume: vol[1]! };
    return refuse(`${at}: only "has at least one ${vol[1]} volume" translates (when.volumeTypes)`);
  }
  if (!OPERATION_KEY.test(key)) return refuse(`${at}: only conditions on request.operation (when.operations) or on the pod's volume types (when.volumeTypes) translate; "${key}" has no equivalent`);
  const values = (Array.isArray(c.value) ? c.value : [c.value]).map(String);
  if (values.some((v) => !OPERATIONS.includes(v) && v !== 'BACKGROUND')) refuse(`${at}: unknown operation in ${values.join(', ')}`);
  const ops = values.filter((v) => OPERATIONS.includes(v));
  if (['Equals', 'In', 'AnyIn', 'AllIn'].includes(op)) return { ops: new Set(ops) };
  if (['NotEquals', 'NotIn', 'AnyNotIn', 'AllNotIn'].includes(op)) return { ops: new Set(OPERATIONS.filter((o) => !ops.includes(o))) };
  return refuse(`${at}: operator ${op} on request.operation has no equivalent`);
}

/** Preconditions → when.operations and when.volumeTypes (the only preconditions with an equivalent). */
function preconditions(p: unknown, where: string): { operations?: string[]; volumeTypes?: string[] } {
  if (p === undefined) return {};
  let groups: { op: 'any' | 'all'; list: unknown[] }[];
  if (Array.isArray(p)) groups = [{ op: 'all', list: p }];
  else if (isRecord(p)) groups = (['any', 'all'] as const).filter((k) => Array.isArray(p[k])).map((k) => ({ op: k, list: p[k] as unknown[] }));
  else return refuse(`${where} is not a list or map`);
  let result: Set<string> | undefined;
  let volumeTypes: string[] | undefined;
  for (const g of groups) {
    const conds = g.list.map((c, i) => condition(c, `${where}.${g.op}[${i}]`));
    const volumes = conds.flatMap((c) => ('volume' in c ? [c.volume] : []));
    const opSets = conds.flatMap((c) => ('ops' in c ? [c.ops] : []));
    if (volumes.length) {
      // when.volumeTypes lists alternatives: any of several, or one that must hold.
      if (g.op === 'any' && opSets.length) refuse(`${where}.any: a volume condition or an operation condition has no equivalent`);
      if (g.op === 'all' && volumes.length > 1) refuse(`${where}.all: several volume types that must all be present have no equivalent`);
      if (volumeTypes) refuse(`${where}: volume conditions in both any and all have no equivalent`);
      volumeTypes = volumes;
    }
    if (!opSets.length) continue;
    const acc = opSets.reduce((a, b) => (g.op === 'any' ? new Set([...a, ...b]) : new Set([...a].filter((o) => b.has(o)))));
    result = result === undefined ? acc : new Set([...result].filter((o) => acc.has(o)));
  }
  const out: { operations?: string[]; volumeTypes?: string[] } = volumeTypes ? { volumeTypes } : {};
  if (!result) return out;
  // governor reviews CREATE and UPDATE; DELETE and CONNECT carry no object to check.
  const ops = ['CREATE', 'UPDATE'].filter((o) => result!.has(o));
  if (ops.length === 0) refuse(`${where}: the rule applies only to ${[...result].join(', ') || 'no operation'}; governor's rules review CREATE and UPDATE`);
  return ops.length === 2 ? out : { ...out, operations: ops };
}

// ---------------------------------------------------------------- CEL

function celValidations(cel: unknown, where: string): RuleBody {
  if (!isRecord(cel)) return refuse(`${where} is not a map`);
  for (const k of Object.keys(cel)) if (k !== 'expressions' && k !== 'variables') refuse(`${where}.${k} has no equivalent (${k === 'paramKind' || k === 'paramRef' ? 'no parameter resources' : 'not supported'})`);
  if (!Array.isArray(cel.expressions) || cel.expressions.length === 0) return refuse(`${where}.expressions: expected a list`);
  const validations = cel.expressions.map((e, i) => {
    if (!isRecord(e) || typeof e.expression !== 'string') return refuse(`${where}.expressions[${i}]: no expression`);
    if (/\bparams\b|\bauthorizer\b/.test(e.expression)) refuse(`${where}.expressions[${i}]: params and authorizer are not available`);
    const out: Record<string, unknown> = { expression: e.expression };
    for (const k of ['message', 'messageExpression', 'reason'] as const) if (typeof e[k] === 'string') out[k] = e[k];
    return out;
  });
  const body: RuleBody = { validations };
  if (Array.isArray(cel.variables)) body.variables = cel.variables.map((v, i) => (isRecord(v) && typeof v.name === 'string' && typeof v.expression === 'string' ? { name: v.name, expression: v.expression } : refuse(`${where}.variables[${i}]: expected name and expression`)));
  return body;
}

// ---------------------------------------------------------------- rules and policies

const RULE_FIELDS = new Set(['name', 'match', 'exclude', 'preconditions', 'validate', 'mutate', 'skipBackgroundRequests', 'reportProperties']);
const VALIDATE_FIELDS = new Set(['message', 'pattern', 'cel', 'failureAction', 'allowExistingViolations']);

function modeOf(action: unknown, where: string): 'enforce' | 'audit' {
  if (action === undefined) return 'audit'; // Kyverno's default
  const a = String(action).toLowerCase();
  if (a === 'enforce' || a === 'audit') return a;
  return refuse(`${where}: unknown action "${String(action)}"`);
}

interface RuleTranslation {
  readonly spec: Record<string, unknown>;
  readonly message?: string;
}

const AUTOGEN_ANNOTATION = 'pod-policies.kyverno.io/autogen-controllers';

function translateRule(rule: Record<string, unknown>, policySpec: Record<string, unknown>, namespace: string | undefined, policyId: string, autogen: unknown): RuleTranslation {
  for (const k of Object.keys(rule)) {
    if (RULE_FIELDS.has(k)) continue;
    refuse(k === 'context' ? 'context (API calls, ConfigMaps, variables) has no equivalent' : k === 'generate' ? 'generating objects is out of scope' : k === 'verifyImages' ? 'image verification is out of scope' : `${k} has no equivalent`);
  }
  if (!rule.validate && !rule.mutate) refuse('neither validate nor mutate');
  const match = matchFilter(rule.match, 'match');
  if (match.names) refuse('match.resources.names: matching by object name has no equivalent (exceptions can exclude names)');
  const kinds = match.kinds;
  if (!kinds || kinds.length === 0) refuse('match names no kinds');
  let namespaces = match.namespaces;
  if (namespace !== undefined) {
    // A namespaced Policy applies only in its own namespace.
    if (namespaces && !namespaces.some((n) => globMatch(n, namespace))) refuse(`match.namespaces never includes the policy's namespace ${namespace}`);
    namespaces = [namespace];
  }
  const spec: Record<string, unknown> = {};
  const body: RuleBody = {};
  let message: string | undefined;
  if (rule.validate !== undefined) {
    const v = rule.validate;
    if (!isRecord(v)) refuse('validate is not a map');
    const val = v as Record<string, unknown>;
    for (const k of Object.keys(val)) {
      if (VALIDATE_FIELDS.has(k)) continue;
      refuse(
        k === 'deny'
          ? 'validate.deny: JMESPath deny conditions have no equivalent (write the check as CEL in spec.validations)'
          : k === 'anyPattern'
            ? 'validate.anyPattern: alternatives of patterns have no equivalent'
            : k === 'foreach'
              ? 'validate.foreach: per-element rules with their own conditions have no equivalent'
              : k === 'podSecurity'
                ? 'validate.podSecurity: Pod Security Standards checks are out of scope'
                : k === 'failureActionOverrides'
                  ? 'validate.failureActionOverrides: a mode per namespace has no equivalent (write one policy per mode)'
                  : `validate.${k} has no equivalent`,
      );
    }
    const overrides = policySpec.validationFailureActionOverrides;
    if (Array.isArray(overrides) && overrides.length) refuse('spec.validationFailureActionOverrides: a mode per namespace has no equivalent (write one policy per mode)');
    spec.mode = modeOf(val.failureAction ?? policySpec.validationFailureAction, val.failureAction !== undefined ? 'validate.failureAction' : 'spec.validationFailureAction');
    if (typeof val.message === 'string') message = val.message;
    // Both default to letting an UPDATE keep a violation the stored object already had.
    if (val.allowExistingViolations === false) spec.allowExistingViolations = false;
    if (val.pattern !== undefined) Object.assign(body, validatePattern(val.pattern));
    else if (val.cel !== undefined) Object.assign(body, celValidations(val.cel, 'validate.cel'));
    else refuse('validate has neither pattern nor cel');
  } else {
    const m = rule.mutate;
    if (!isRecord(m)) refuse('mutate is not a map');
    const mut = m as Record<string, unknown>;
    for (const k of Object.keys(mut)) {
      if (k === 'patchStrategicMerge' || k === 'patchesJson6902' || k === 'foreach') continue;
      refuse(k === 'targets' || k === 'mutateExistingOnPolicyUpdate' ? `mutate.${k}: changing other (existing) objects has no equivalent` : `mutate.${k} has no equivalent`);
    }
    const parts = ['patchStrategicMerge', 'patchesJson6902', 'foreach'].filter((k) => mut[k] !== undefined);
    if (parts.length !== 1) refuse('mutate: expected exactly one of patchStrategicMerge, patchesJson6902, foreach');
    if (mut.patchStrategicMerge !== undefined) Object.assign(body, strategicMerge(mut.patchStrategicMerge, 'mutate.patchStrategicMerge'));
    else if (mut.patchesJson6902 !== undefined) Object.assign(body, jsonPatches(mut.patchesJson6902, 'mutate.patchesJson6902'));
    else Object.assign(body, mutateForeach(mut.foreach, 'mutate.foreach'));
    spec.mode = modeOf(policySpec.validationFailureAction, 'spec.validationFailureAction');
  }

  const podOnly = kinds!.every(isPodKind);
  // Only rules on Pod alone are generated for controllers; there the annotation narrows or disables the set.
  if (podOnly && autogen !== undefined) refuse(`the ${AUTOGEN_ANNOTATION} annotation ("${String(autogen)}") has no equivalent: Pod always covers every pod controller`);
  const hasPod = kinds!.some(isPodKind);
  if (body.resources && !kinds!.some((k) => isPodKind(k) || POD_CONTROLLERS.includes(k.split('/').pop()!))) refuse('container resource rules need a pod-bearing kind in match.kinds');
  // Kyverno generates controller rules (on the pod template) only for rules that match Pod alone; mixed kinds are
  // checked on each object's own metadata.
  if (hasPod && !podOnly && (body.labels || body.annotations)) spec.target = 'object';
  spec.match = filterFields({ ...match, ...(namespaces ? { namespaces } : {}) });
  if (rule.exclude !== undefined) Object.assign(spec, excludeOf(rule.exclude, 'exclude', policyId));
  const ops = match.operations ? preconditions({ any: [{ key: '{{request.operation}}', operator: 'AnyIn', value: match.operations }] }, 'match.resources.operations').operations : undefined;
  const pre = preconditions(rule.preconditions, 'preconditions');
  const operations = ops && pre.operations ? ops.filter((o) => pre.operations!.includes(o)) : (ops ?? pre.operations);
  if (operations && operations.length === 0) refuse('match.operations and preconditions never hold together');
  let when = body.when ?? {};
  if (pre.volumeTypes) when = mergeWhen(when, { volumeTypes: pre.volumeTypes });
  if (operations) when = { ...when, operations };
  if (Object.keys(when).length) spec.when = when;
  if (body.resources) spec.resources = body.resources;
  if (body.labels) spec.labels = body.labels;
  if (body.annotations) spec.annotations = body.annotations;
  if (body.variables) spec.variables = body.variables;
  if (body.validations) spec.validations = message !== undefined ? body.validations.map((x) => ({ message, ...(x as Record<string, unknown>) })) : body.validations;
  return { spec, ...(message !== undefined ? { message } : {}) };
}

function isPodKind(k: string): boolean {
  return k === 'Pod' || k === 'v1/Pod' || k === 'core/v1/Pod' || k === '/v1/Pod';
}

/** A DNS-1123 subdomain from a Kyverno policy (and rule) name, at most 253 characters. */
function dnsName(s: string): string {
  const n = s
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, 253)
    .replace(/[^a-z0-9]+$/, '');
  return n || 'converted';
}

/**
 * Converts one Kyverno ClusterPolicy or Policy: one GovernancePolicy per translated rule (Kyverno's match, mode and
 * conditions are per rule; a GovernancePolicy has one of each), named after the policy (and the rule when there are
 * several). `taken` holds names already used (several inputs), so outputs never collide.
 */
export function convertKyvernoPolicy(doc: unknown, taken: Set<string> = new Set()): Conversion {
  if (!isKyvernoPolicy(doc)) throw new KyvernoInputError('not a Kyverno ClusterPolicy or Policy');
  const d = doc as Record<string, unknown>;
  const meta = isRecord(d.metadata) ? d.metadata : {};
  const name = typeof meta.name === 'string' && meta.name ? meta.name : undefined;
  if (!name) throw new KyvernoInputError(`${String(d.kind)} without metadata.name`);
  const namespace = d.kind === 'Policy' ? (typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : 'default') : undefined;
  const policyId = namespace !== undefined ? `Policy/${namespace}/${name}` : `ClusterPolicy/${name}`;
  const spec = isRecord(d.spec) ? d.spec : {};
  if (!Array.isArray(spec.rules) || spec.rules.length === 0) throw new KyvernoInputError(`${policyId}: spec.rules is missing or empty`);
  const rules = spec.rules as unknown[];
  const out: Conversion = { policies: [], refused: [] };
  const annotations = isRecord(meta.annotations) ? meta.annotations : {};
  rules.forEach((r, i) => {
    const ruleName = isRecord(r) && typeof r.name === 'string' && r.name ? r.name : `rules[${i}]`;
    try {
      if (!isRecord(r)) refuse('not a map');
      if (spec.admission === false) refuse('spec.admission: false (background scans only) has no equivalent: governor policies act at admission');
      if (String(spec.applyRules ?? 'All') === 'One' && rules.length > 1) refuse('spec.applyRules: One (stop at the first matching rule) has no equivalent');
      const t = translateRule(r as Record<string, unknown>, spec, namespace, policyId, annotations[AUTOGEN_ANNOTATION]);
      let base = dnsName(rules.length === 1 ? name : `${name}-${ruleName}`);
      if (namespace !== undefined) base = dnsName(`${namespace}-${base}`);
      let n = base;
      for (let k = 2; taken.has(n); k++) n = `${base.slice(0, 249)}-${k}`;
      taken.add(n);
      out.policies.push({
        apiVersion: 'governor.io/v1alpha1',
        kind: 'GovernancePolicy',
        metadata: {
          name: n,
          annotations: {
            [KYVERNO_POLICY_ANNOTATION]: namespace !== undefined ? `${namespace}/${name}` : name,
            [KYVERNO_RULE_ANNOTATION]: ruleName,
            ...(t.message !== undefined ? { [KYVERNO_MESSAGE_ANNOTATION]: t.message } : {}),
          },
        },
        spec: t.spec,
      });
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      out.refused.push({ policy: policyId, rule: ruleName, reason: e.message });
    }
  });
  return out;
}
