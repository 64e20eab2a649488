// Rule family "resources": defaults filled per container, then required and forbidden requests/limits, maximums and limit/request ratios.
import { compareQuantities, multiplyQuantities, quantityToNumber, readQuantity, tryParseQuantity, type Quantity } from '../common/quantity.js';
import type { CompiledResources, RatioLimit, ResourceField, ResourceName } from '../policy/governance-policy.js';
import { getIn, isRecord, type Path, type PatchRecorder } from './json-patch.js';
import { containerCount, containersOf, MAX_CONTAINERS, podLocation } from './pod-template.js';
import { quoteValue } from './result.js';
import type { Finding, Target } from './types.js';

function section(container: Record<string, unknown>, name: 'requests' | 'limits'): Record<string, unknown> | undefined {
  const r = container.resources;
  if (!isRecord(r)) return undefined;
  const s = r[name];
  return isRecord(s) ? s : undefined;
}

/** The recorder would find a value there (it never overwrites one): skipping the call spares building the path. */
function has(s: Record<string, unknown> | undefined, key: string): boolean {
  return s !== undefined && Object.prototype.hasOwnProperty.call(s, key) && s[key] !== undefined && s[key] !== null;
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

/**
 * default-resources. Never overwrites a value the user set, and never produces a request above its limit:
 * - a missing request where the container sets a limit becomes that limit (what Kubernetes itself does for Pods,
 *   so a Guaranteed container stays Guaranteed);
 * - a missing limit where the container's request is above the default limit becomes that request.
 * A pod spec with more than MAX_CONTAINERS is left as it is (validation reports it).
 */
export function mutateResources(res: CompiledResources, t: Target, rec: PatchRecorder): void {
  if (!res.defaults.requests.length && !res.defaults.limits.length) return;
  if (containerCount(rec.doc, t.workload!, res.initContainers) > MAX_CONTAINERS) return;
  for (const c of containersOf(rec.doc, t.workload!, t.deadline, res.initContainers)) {
    const { path } = c;
    let container = c.container;
    // One path per container for all its defaults, the last two segments set per edit: the recorder reads a path and
    // keeps nothing of it.
    let at: (string | number)[] | undefined;
    for (const d of res.defaults.requests) {
      if (has(section(container, 'requests'), d.resource)) continue;
      const limit = section(container, 'limits')?.[d.resource];
      const value = present(limit) && tryParseQuantity(limit) !== undefined ? limit : d.text;
      rec.addIfAbsent(resourcePath((at ??= [...path, 'resources', '', '']), 'requests', d.resource), value);
    }
    // The recorder copies what it edits (copy-on-write): read the container again to see the requests just added.
    if (res.defaults.requests.length) container = getIn(rec.doc, path) as Record<string, unknown>;
    for (const d of res.defaults.limits) {
      if (has(section(container, 'limits'), d.resource)) continue;
      const request = section(container, 'requests')?.[d.resource];
      const q = tryParseQuantity(request);
      const value = q !== undefined && compareQuantities(q, d.value) > 0 ? request : d.text;
      rec.addIfAbsent(resourcePath((at ??= [...path, 'resources', '', '']), 'limits', d.resource), value);
    }
  }
}

/** `at` (a container's path, then `resources` and two free segments) pointing at `resources.<s>.<resource>`. */
function resourcePath(at: (string | number)[], s: 'requests' | 'limits', resource: string): (string | number)[] {
  at[at.length - 2] = s;
  at[at.length - 1] = resource;
  return at;
}

function ratioText(x: number): string {
  return Number.isFinite(x) ? String(+x.toFixed(2)) : 'too large to show';
}

/**
 * limit / request > ratio for a positive request. Nearly always decided by one float division of two exact nano
 * counts (relative error below 2^-52, far inside the margin); only a ratio within 1e-9 of the bound, or amounts
 * without a nano count, take the exact product (BigInt work, on every review otherwise).
 */
export function overRatio(lim: Quantity, req: Quantity, r: RatioLimit): boolean {
  if (lim.nanos !== undefined && req.nanos !== undefined) {
    const x = lim.nanos / req.nanos;
    if (x > r.value * (1 + 1e-9)) return true;
    if (x < r.value * (1 - 1e-9)) return false;
  }
  return compareQuantities(lim, multiplyQuantities(r.exact, req)) > 0;
}

/**
 * The container's value of a resource, parsed. A value that is not a quantity this engine reads is a violation of
 * max-resources (denied by an enforce policy, a warning in audit): passing it would let any value through.
 */
function parsedValue(container: Record<string, unknown>, s: 'requests' | 'limits', r: ResourceName, path: Path, out: Finding[]): Quantity | undefined {
  const v = section(container, s)?.[r];
  if (!present(v)) return undefined;
  const q = readQuantity(v);
  if (typeof q !== 'string') return q;
  out.push({ rule: 'max-resources', path: [...path, 'resources', s, r], message: `is not a quantity this policy can check: it ${q} (is ${quoteValue(v)})`, container, value: v });
  return undefined;
}

/**
 * require-requests, require-limits, forbid-resources, max-resources, max-limit-request-ratio. Findings go into `out`
 * (returned); paths are built only for findings: this runs for every policy on every review. At most MAX_CONTAINERS
 * are checked; a pod spec with more is itself a violation.
 */
export function validateResources(res: CompiledResources, t: Target, out: Finding[] = []): Finding[] {
  // A policy with defaults only checks nothing here (nor does it deny a pod spec for its size).
  if (!res.require.length && !res.forbid.length && !res.max.length && !res.maxLimitRequestRatio.length) return out;
  const count = containerCount(t.obj, t.workload!, res.initContainers);
  if (count > MAX_CONTAINERS) {
    out.push({
      rule: 'max-resources',
      path: [...podLocation(t.workload!).spec, 'containers'],
      message: `lists ${count} containers${res.initContainers ? ' and init containers' : ''}: this policy checks at most ${MAX_CONTAINERS} per pod spec`,
      value: count,
    });
  }
  const containers = containersOf(t.obj, t.workload!, t.deadline, res.initContainers);
  if (res.containers === 'any') return validateAny(res, t, containers, out);
  for (const { path, container } of containers) {
    for (const req of res.require) {
      if (!present(section(container, req.section)?.[req.resource])) {
        const rule = req.section === 'requests' ? 'require-requests' : 'require-limits';
        out.push({ rule, path: [...path, 'resources', req.section, req.resource], message: 'is required', container });
      }
    }
    for (const f of res.forbid) {
      const v = section(container, f.section)?.[f.resource];
      if (present(v)) out.push({ rule: 'forbid-resources', path: [...path, 'resources', f.section, f.resource], message: `must not be set (is ${quoteValue(v)})`, container, value: v });
    }
    for (const m of res.max) {
      for (const s of SECTIONS) {
        const q = parsedValue(container, s, m.resource, path, out);
        if (q !== undefined && compareQuantities(q, m.value) > 0) {
          const v = section(container, s)![m.resource];
          // A readable quantity is at most 128 characters: shown as written.
          out.push({ rule: 'max-resources', path: [...path, 'resources', s, m.resource], message: `must be at most ${m.text} (is ${String(v)})`, container, value: v });
        }
      }
    }
    for (const r of res.maxLimitRequestRatio) {
      const limText = section(container, 'limits')?.[r.resource];
      const lim = tryParseQuantity(limText);
      const req = tryParseQuantity(section(container, 'requests')?.[r.resource]);
      if (lim === undefined || req === undefined || lim.sign <= 0) continue;
      // limit / request > ratio, exactly: limit > ratio × request (a request of 0 makes any limit unbounded).
      if (req.sign > 0 && !overRatio(lim, req, r)) continue;
      const shown = req.sign > 0 ? `${ratioText(quantityToNumber(lim) / quantityToNumber(req))}x` : 'unbounded: request is 0';
      out.push({
        rule: 'max-limit-request-ratio',
        path: [...path, 'resources', 'limits', r.resource],
        message: `must be at most ${ratioText(r.value)}x the request (is ${shown})`,
        container,
        value: limText,
      });
    }
  }
  return out;
}

function ratioOk(container: Record<string, unknown>, r: RatioLimit): boolean {
  const lim = tryParseQuantity(section(container, 'limits')?.[r.resource]);
  const req = tryParseQuantity(section(container, 'requests')?.[r.resource]);
  if (lim === undefined || req === undefined || lim.sign <= 0) return true;
  return req.sign > 0 && !overRatio(lim, req, r);
}

function withinMax(container: Record<string, unknown>, resource: ResourceName, max: Quantity): boolean {
  for (const s of SECTIONS) {
    const v = section(container, s)?.[resource];
    if (!present(v)) continue;
    // A value this engine cannot read satisfies nothing.
    const q = tryParseQuantity(v);
    if (q === undefined || compareQuantities(q, max) > 0) return false;
  }
  return true;
}

const fieldText = (f: ResourceField) => `${f.section}.${f.resource}`;

/**
 * `containers: any`: each check passes when at least one container satisfies it; one finding per check that none
 * does, at the pod spec's container list (`check` names it, its identity on UPDATE). One walk over the containers,
 * which stops once every check is satisfied.
 */
function validateAny(res: CompiledResources, t: Target, containers: Iterable<{ container: Record<string, unknown> }>, out: Finding[]): Finding[] {
  const pending = {
    require: new Set(res.require),
    forbid: new Set(res.forbid),
    max: new Set(res.max),
    ratio: new Set(res.maxLimitRequestRatio),
  };
  let left = pending.require.size + pending.forbid.size + pending.max.size + pending.ratio.size;
  for (const { container } of containers) {
    for (const f of pending.require) if (present(section(container, f.section)?.[f.resource]) && pending.require.delete(f)) left--;
    for (const f of pending.forbid) if (!present(section(container, f.section)?.[f.resource]) && pending.forbid.delete(f)) left--;
    for (const m of pending.max) if (withinMax(container, m.resource, m.value) && pending.max.delete(m)) left--;
    for (const r of pending.ratio) if (ratioOk(container, r) && pending.ratio.delete(r)) left--;
    if (left === 0) return out;
  }
  const path = [...podLocation(t.workload!).spec, 'containers'];
  const which = res.initContainers ? 'container or init container' : 'container';
  for (const f of pending.require) {
    out.push({ rule: f.section === 'requests' ? 'require-requests' : 'require-limits', path, message: `has no ${which} that sets ${fieldText(f)} (at least one must)`, check: fieldText(f) });
  }
  for (const f of pending.forbid) out.push({ rule: 'forbid-resources', path, message: `has no ${which} without ${fieldText(f)} (at least one must leave it unset)`, check: fieldText(f) });
  for (const m of pending.max) out.push({ rule: 'max-resources', path, message: `has no ${which} with ${m.resource} at most ${m.text} (at least one must)`, check: `max.${m.resource}` });
  for (const r of pending.ratio) {
    out.push({ rule: 'max-limit-request-ratio', path, message: `has no ${which} with a ${r.resource} limit at most ${ratioText(r.value)}x its request (at least one must)`, check: `ratio.${r.resource}` });
  }
  return out;
}

const SECTIONS = ['requests', 'limits'] as const;
