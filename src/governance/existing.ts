// UPDATE grandfathering: a violation the stored object already had may stay, but only where it is not made worse.
import { compareQuantities, multiplyQuantities, tryParseQuantity } from '../common/quantity.js';
import { isRecord } from './json-patch.js';
import { quoteValue } from './result.js';
import type { Finding } from './types.js';

/**
 * The identity of a finding across an UPDATE: for a container's resource, the rule, the container list and name
 * (its index only when it has no name) and the resource; otherwise the rule and the path.
 */
export function findingKey(f: Finding): string {
  const p = f.path;
  if (f.check !== undefined) return `${f.rule}|${p.join('\u0000')}|${f.check}`;
  if (f.container) {
    // [...pod spec, field, index, 'resources', section, resource]
    const n = p.length;
    const name = f.container.name;
    return `${f.rule}|${String(p[n - 5])}/${typeof name === 'string' ? name : `#${String(p[n - 4])}`}|${String(p[n - 2])}.${String(p[n - 1])}`;
  }
  return `${f.rule}|${p.join('\u0000')}`;
}

/** The old object's findings by identity (the first of a kind wins; the rules never report one twice). */
export function indexFindings(found: readonly Finding[]): Map<string, Finding> {
  const out = new Map<string, Finding>();
  for (const f of found) {
    const k = findingKey(f);
    if (!out.has(k)) out.set(k, f);
  }
  return out;
}

function amount(container: Record<string, unknown> | undefined, section: string, resource: string): unknown {
  const r = container?.resources;
  const s = isRecord(r) ? r[section] : undefined;
  return isRecord(s) ? s[resource] : undefined;
}

/**
 * True when `now` is no further out of bounds than `before`, the same violation on the stored object: a maximum no
 * higher, a limit/request ratio no higher, no more containers; for every other rule (required and allowed values,
 * values that are not quantities, the migration rules) the same value as before. A forbidden field that stays set,
 * whatever its value, and a `containers: any` check that still no container satisfies, are no worse.
 */
export function notWorse(now: Finding, before: Finding): boolean {
  if (now.check !== undefined) return before.check === now.check;
  if (now.rule === 'forbid-resources') return true;
  if (now.rule === 'max-resources') {
    if (!now.container) return typeof now.value === 'number' && typeof before.value === 'number' && now.value <= before.value;
    const a = tryParseQuantity(now.value);
    const b = tryParseQuantity(before.value);
    return a && b ? compareQuantities(a, b) <= 0 : now.value === before.value;
  }
  if (now.rule === 'max-limit-request-ratio') {
    const resource = String(now.path[now.path.length - 1]);
    const lim = tryParseQuantity(now.value);
    const req = tryParseQuantity(amount(now.container, 'requests', resource));
    const oldLim = tryParseQuantity(before.value);
    const oldReq = tryParseQuantity(amount(before.container, 'requests', resource));
    if (!lim || !req || !oldLim || !oldReq) return false;
    // A request of 0 makes the ratio unbounded: no worse than unbounded, and worse than any bounded one.
    if (oldReq.sign <= 0) return true;
    if (req.sign <= 0) return false;
    // limit/request ≤ oldLimit/oldRequest, exactly: limit × oldRequest ≤ oldLimit × request.
    return compareQuantities(multiplyQuantities(lim, oldReq), multiplyQuantities(oldLim, req)) <= 0;
  }
  return now.value === before.value;
}

/** What the stored object had, for "(made worse by this update: was …)". */
export function describeBefore(before: Finding): string {
  if (before.rule === 'max-resources' && !before.container) return `${String(before.value)} containers`;
  if (before.rule === 'max-limit-request-ratio') {
    const resource = String(before.path[before.path.length - 1]);
    return `${quoteValue(before.value)} over a request of ${quoteValue(amount(before.container, 'requests', resource))}`;
  }
  return before.value === undefined ? 'absent' : quoteValue(before.value);
}
