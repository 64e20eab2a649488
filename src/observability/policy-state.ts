// Policy state as metrics and log lines: what is in force by kind, invalid documents by source and kind, the last clean read.
import type { PolicyStore, ReloadOutcome } from '../policy/store.js';
import { formatPolicyError } from '../policy/types.js';
import type { Logger } from './log.js';
import type { GovernorMetrics } from './metrics.js';

const KINDS = ['ScalingPolicy', 'MigrationPolicy', 'GovernancePolicy'] as const;

/** Sets the policy gauges from the store (called after every offer); every known series is written, zeros included. */
export function recordPolicyState(metrics: GovernorMetrics, store: PolicyStore): void {
  const set = store.current();
  metrics.policiesLoaded.set({ kind: 'ScalingPolicy' }, set.scaling.length);
  metrics.policiesLoaded.set({ kind: 'MigrationPolicy' }, set.migration.length);
  metrics.policiesLoaded.set({ kind: 'GovernancePolicy' }, set.governance.length);
  for (const s of store.sources()) {
    // Documents, not errors: one document with three bad fields is one invalid document.
    const docs = new Map<string, Set<string>>();
    for (const e of s.errors) {
      const prefix = e.policy?.split('/')[0];
      const kind = prefix && (KINDS as readonly string[]).includes(prefix) ? prefix : 'unknown';
      const seen = docs.get(kind) ?? new Set<string>();
      seen.add(`${e.file}#${e.document ?? 0}`);
      docs.set(kind, seen);
    }
    for (const kind of [...KINDS, 'unknown']) metrics.policyLoadErrors.set({ source: s.source, kind }, docs.get(kind)?.size ?? 0);
    if (s.lastSuccessMs !== undefined) metrics.policyLastLoadSuccess.set({ source: s.source }, s.lastSuccessMs / 1000);
  }
}

/**
 * Reports each read of a source: one log line per invalid document (file, line, path) the first time it is seen
 * (a source is re-read on every change, and a watch sees many), one for the last good versions kept when that list
 * changes, a summary; the reload counter (applied: everything in force as offered; partial: some documents held back).
 */
export function policyReloadReporter(log: Logger, metrics: GovernorMetrics): (source: string, outcome: ReloadOutcome, files?: number) => void {
  const logged = new Map<string, { errors: Set<string>; kept: string }>();
  return (source, outcome, files) => {
    metrics.policyReloads.inc({ result: outcome.applied ? 'applied' : 'partial' });
    const before = logged.get(source) ?? { errors: new Set<string>(), kept: '' };
    const now = new Set<string>();
    let fresh = 0;
    for (const e of outcome.errors) {
      const text = formatPolicyError(e);
      now.add(text);
      if (before.errors.has(text)) continue;
      fresh++;
      log.error(
        { source, file: e.file, ...(e.line !== undefined ? { line: e.line } : {}), ...(e.document !== undefined ? { document: e.document } : {}), path: e.path, ...(e.policy ? { policy: e.policy } : {}) },
        `invalid policy: ${text}`,
      );
    }
    const fixed = [...before.errors].filter((t) => !now.has(t)).length;
    const kept = outcome.kept.join(',');
    if (outcome.kept.length && kept !== before.kept) log.warn({ source, policies: outcome.kept.slice(0, 50), count: outcome.kept.length }, 'the last good version of these policies stays in force');
    logged.set(source, { errors: now, kept });
    const set = outcome.set;
    const summary = {
      source,
      generation: set.generation,
      ...(files !== undefined ? { files } : {}),
      scaling: set.scaling.length,
      migration: set.migration.length,
      governance: set.governance.length,
      invalid: outcome.errors.length,
      ...(fixed ? { fixed } : {}),
    };
    if (fresh) log.error(summary, 'policies loaded; invalid documents left out');
    else if (outcome.errors.length) log.warn(summary, 'policies loaded; invalid documents still left out');
    else log.info(summary, 'policies loaded');
  };
}
