// UPDATE grandfathering: a violation the stored object already had may stay, but only where it is not made worse.
import { compareQuantities, multiplyQuantities } from '../common/quantity.js';
import type { Finding } from './types.js';

/** The identity of a finding across an UPDATE: its key (container name, not index) or else its rule and path. */
export function findingKey(f: Finding): string {
  return f.key ?? `${f.rule}|${f.path.join('\u0000')}`;
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

/**
 * True when `now` is no further out of bounds than `before`, the same violation on the stored object: a maximum no
 * higher, a ratio no higher, a required or allowed value the same, no more containers. Findings without a degree
 * (the migration rules) compare by identity alone.
 */
export function notWorse(now: Finding, before: Finding): boolean {
  const a = now.degree;
  const b = before.degree;
  if (!a || !b) return !a && !b;
  switch (a.kind) {
    case 'quantity':
      return b.kind === 'quantity' && compareQuantities(a.value, b.value) <= 0;
    case 'count':
      return b.kind === 'count' && a.value <= b.value;
    case 'same':
      return b.kind === 'same' && a.value === b.value;
    case 'ratio': {
      if (b.kind !== 'ratio') return false;
      // A request of 0 makes the ratio unbounded: no worse than unbounded, and worse than any bounded one.
      if (b.request.sign <= 0) return true;
      if (a.request.sign <= 0) return false;
      // limit/request ≤ oldLimit/oldRequest, exactly: limit × oldRequest ≤ oldLimit × request.
      return compareQuantities(multiplyQuantities(a.limit, b.request), multiplyQuantities(b.limit, a.request)) <= 0;
    }
  }
}
