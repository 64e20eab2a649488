// MigrationPolicy: schema plus the semantic checks the schema cannot express.
import schema from './schemas/migration-policy.schema.json' with { type: 'json' };
import { parseDuration } from '../common/duration.js';
import { namespacedIdentity, type Issue, type PolicyKindSpec } from './kind.js';
import { compileLoadReading, loadInterval, loadIssues } from './load-source.js';
import { workloadRef, type MigrationPolicy } from './types.js';

export const migrationPolicyKind: PolicyKindSpec<MigrationPolicy> = {
  kind: 'MigrationPolicy',
  schema,
  compile(doc, origin) {
    const spec = doc.spec;
    const issues: Issue[] = [];
    const t = spec.target;
    if (t.maxReplicas !== undefined && t.minReplicas > t.maxReplicas) {
      issues.push({ path: ['spec', 'target', 'minReplicas'], message: `minReplicas (${t.minReplicas}) must not exceed maxReplicas (${t.maxReplicas})` });
    }
    if (spec.source.kind === t.kind && spec.source.name === t.name) {
      issues.push({ path: ['spec', 'target', 'name'], message: 'source and target must be different workloads' });
    }
    const intervalMs = loadInterval(spec, issues);
    if (spec.capacity?.replicas !== undefined && t.maxReplicas !== undefined && spec.capacity.replicas > t.maxReplicas) {
      issues.push({
        path: ['spec', 'capacity', 'replicas'],
        message: `capacity (${spec.capacity.replicas}) exceeds target.maxReplicas (${t.maxReplicas}): the source could never drain`,
      });
    }
    issues.push(...loadIssues(spec.load));
    if (issues.length) return { issues };
    return {
      value: {
        kind: 'MigrationPolicy',
        ...namespacedIdentity(doc, origin),
        source: workloadRef(spec.source),
        target: {
          apiVersion: t.apiVersion,
          kind: t.kind,
          name: t.name,
          minReplicas: t.minReplicas,
          ...(t.maxReplicas !== undefined ? { maxReplicas: t.maxReplicas } : {}),
        },
        ...compileLoadReading(spec),
        ...(spec.base !== undefined ? { base: spec.base } : {}),
        minDrain: spec.minDrain,
        step: spec.step,
        intervalMs,
        staleAfterMs: parseDuration(spec.staleAfter),
        capacity: spec.capacity?.replicas !== undefined ? { replicas: spec.capacity.replicas } : spec.capacity?.scalingPolicy ? { scalingPolicy: spec.capacity.scalingPolicy } : undefined,
      },
    };
  },
};
