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
 * After a source's read: one log line per invalid document (file, line, path), one for the last good versions kept,
 * one summary; the reload counter (applied: everything in force as offered; partial: some documents held back).
 */
export function reportReload(log: Logger, metrics: GovernorMetrics, source: string, outcome: ReloadOutcome, files?: number): void {
  metrics.policyReloads.inc({ result: outcome.applied ? 'applied' : 'partial' });
  for (const e of outcome.errors) {
    log.error(
      { source, file: e.file, ...(e.line !== undefined ? { line: e.line } : {}), ...(e.document !== undefined ? { document: e.document } : {}), path: e.path, ...(e.policy ? { policy: e.policy } : {}) },
      `invalid policy: ${formatPolicyError(e)}`,
    );
  }
  if (outcome.kept.length) log.warn({ source, policies: outcome.kept.slice(0, 50), count: outcome.kept.length }, 'the last good version of these policies stays in force');
  const set = outcome.set;
  const summary = { source, generation: set.generation, ...(files !== undefined ? { files } : {}), scaling: set.scaling.length, migration: set.migration.length, governance: set.governance.length, invalid: outcome.errors.length };
  if (outcome.errors.length) log.error(summary, 'policies loaded; invalid documents left out');
  else log.info(summary, 'policies loaded');
}
