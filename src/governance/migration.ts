// Rule family "migration", built-in half: valid migration modes and roles, pinned-not-source, and protect-migration-source on DELETE.
import {
  FORCE_DELETE_ANNOTATION,
  MIGRATION_LABEL,
  MIGRATION_MODES,
  MIGRATION_ROLE_LABEL,
  MIGRATION_ROLES,
  type GovernancePolicy,
} from '../policy/governance-policy.js';
import { quoteValue } from './result.js';
import { metadataMap, stringValue } from './tags.js';
import type { Finding, Target } from './types.js';

/** migration-label-values (built-in values, unless the policy lists its own) and pinned-not-source. */
export function validateMigration(policy: GovernancePolicy, t: Target): Finding[] {
  const out: Finding[] = [];
  const labels = metadataMap(t.obj, ['metadata'], 'labels');
  const mode = stringValue(labels, MIGRATION_LABEL);
  const role = stringValue(labels, MIGRATION_ROLE_LABEL);
  const declared = (key: string) => policy.labels.some((l) => l.key === key && (l.allowed || l.pattern));
  if (mode !== undefined && !declared(MIGRATION_LABEL) && !(MIGRATION_MODES as readonly string[]).includes(mode)) {
    out.push({ rule: 'migration-label-values', path: ['metadata', 'labels', MIGRATION_LABEL], message: `must be one of ${MIGRATION_MODES.join(', ')} (is ${quoteValue(mode)})`, value: mode });
  }
  if (role !== undefined && !declared(MIGRATION_ROLE_LABEL) && !(MIGRATION_ROLES as readonly string[]).includes(role)) {
    out.push({ rule: 'migration-label-values', path: ['metadata', 'labels', MIGRATION_ROLE_LABEL], message: `must be one of ${MIGRATION_ROLES.join(', ')} (is ${quoteValue(role)})`, value: role });
  }
  if (mode === 'pinned' && role === 'source') {
    out.push({
      rule: 'pinned-not-source',
      path: ['metadata', 'labels', MIGRATION_ROLE_LABEL],
      message: `must not be "source" on a pinned workload (${MIGRATION_LABEL}=pinned): use live or restart, or remove the role`,
    });
  }
  if (mode === 'pinned' && t.name) {
    const migration = t.activeMigrationSource(t.namespace, t.kind, t.name);
    if (migration) {
      out.push({
        rule: 'pinned-not-source',
        path: ['metadata', 'labels', MIGRATION_LABEL],
        message: `must not be "pinned" while the workload is the source of MigrationPolicy ${migration}: use live or restart until it ends`,
      });
    }
  }
  return out;
}

/**
 * protect-migration-source: the DELETE of a workload that a running migration drains is denied unless the stored
 * object carries governor.io/force-delete: "true". Returns the MigrationPolicy name and whether force was used.
 */
export function checkDeleteOfMigrationSource(t: Target, oldObject: unknown): { migration: string; forced: boolean } | undefined {
  if (!t.name) return undefined;
  const migration = t.activeMigrationSource(t.namespace, t.kind, t.name);
  if (!migration) return undefined;
  const forced = stringValue(metadataMap(oldObject, ['metadata'], 'annotations'), FORCE_DELETE_ANNOTATION) === 'true';
  return { migration, forced };
}
