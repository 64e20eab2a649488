// Rule family "resources": defaults filled per container, then required requests/limits, maximums and limit/request ratios.
import { tryParseQuantity } from '../common/quantity.js';
import type { CompiledResources, ResourceName } from '../policy/governance-policy.js';
import { getIn, isRecord, type Path, type PatchRecorder } from './json-patch.js';
import { containersOf } from './pod-template.js';
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
 */
export function mutateResources(res: CompiledResources, t: Target, rec: PatchRecorder): void {
  if (!res.defaults.requests.length && !res.defaults.limits.length) return;
  for (const c of containersOf(rec.doc, t.kind, t.deadline)) {
    const { path } = c;
    let container = c.container;
    for (const d of res.defaults.requests) {
      if (has(section(container, 'requests'), d.resource)) continue;
      const limit = section(container, 'limits')?.[d.resource];
      const value = present(limit) && tryParseQuantity(limit) !== undefined ? limit : d.text;
      rec.addIfAbsent([...path, 'resources', 'requests', d.resource], value);
    }
    // The recorder copies what it edits (copy-on-write): read the container again to see the requests just added.
    if (res.defaults.requests.length) container = getIn(rec.doc, path) as Record<string, unknown>;
    for (const d of res.defaults.limits) {
      if (has(section(container, 'limits'), d.resource)) continue;
      const request = section(container, 'requests')?.[d.resource];
      const q = tryParseQuantity(request);
      const value = q !== undefined && q > d.value ? request : d.text;
      rec.addIfAbsent([...path, 'resources', 'limits', d.resource], value);
    }
  }
}

function ratioText(x: number): string {
  return String(+x.toFixed(2));
}

/** The container's value of a resource, parsed; an unparsable one is reported (once per call) and counts as unset. */
function parsedValue(container: Record<string, unknown>, s: 'requests' | 'limits', r: ResourceName, path: Path, out: Finding[]): number | undefined {
  const v = section(container, s)?.[r];
  if (!present(v)) return undefined;
  const q = tryParseQuantity(v);
  if (q === undefined) out.push({ rule: 'max-resources', path: [...path, 'resources', s, r], message: `is not a valid quantity (${JSON.stringify(v)})`, status: 'error' });
  return q;
}

/**
 * require-requests, require-limits, max-resources, max-limit-request-ratio. Findings go into `out` (returned); paths
 * are built only for findings: this runs for every policy on every review.
 */
export function validateResources(res: CompiledResources, t: Target, out: Finding[] = []): Finding[] {
  for (const { path, container } of containersOf(t.obj, t.kind, t.deadline)) {
    for (const req of res.require) {
      if (!present(section(container, req.section)?.[req.resource])) {
        out.push({ rule: req.section === 'requests' ? 'require-requests' : 'require-limits', path: [...path, 'resources', req.section, req.resource], message: 'is required' });
      }
    }
    for (const m of res.max) {
      for (const s of SECTIONS) {
        const q = parsedValue(container, s, m.resource, path, out);
        if (q !== undefined && q > m.value) {
          out.push({ rule: 'max-resources', path: [...path, 'resources', s, m.resource], message: `must be at most ${m.text} (is ${String(section(container, s)![m.resource])})` });
        }
      }
    }
    for (const r of res.maxLimitRequestRatio) {
      const lim = tryParseQuantity(section(container, 'limits')?.[r.resource]);
      const req = tryParseQuantity(section(container, 'requests')?.[r.resource]);
      if (lim === undefined || req === undefined || lim <= 0) continue;
      const ratio = req > 0 ? lim / req : Infinity;
      if (ratio > r.value) {
        out.push({
          rule: 'max-limit-request-ratio',
          path: [...path, 'resources', 'limits', r.resource],
          message: `must be at most ${ratioText(r.value)}x the request (is ${req > 0 ? `${ratioText(ratio)}x` : 'unbounded: request is 0'})`,
        });
      }
    }
  }
  return out;
}

const SECTIONS = ['requests', 'limits'] as const;
