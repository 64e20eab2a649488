// ScalingPolicy: schema plus the semantic checks the schema cannot express.
import schema from './schemas/scaling-policy.schema.json' with { type: 'json' };
import { parseDuration } from '../common/duration.js';
import { namespacedIdentity, type Issue, type PolicyKindSpec } from './kind.js';
import { compileLoadReading, loadInterval, loadIssues } from './load-source.js';
import { workloadRef, type ScalingPolicy } from './types.js';

export const scalingPolicyKind: PolicyKindSpec<ScalingPolicy> = {
  kind: 'ScalingPolicy',
  schema,
  compile(doc, origin) {
    const spec = doc.spec;
    const issues: Issue[] = [];
    const min: number = spec.replicas.min;
    const max: number = spec.replicas.max;
    const base: number = spec.replicas.base ?? min;
    const cap: number = spec.replicas.cap ?? max;
    if (base > max) issues.push({ path: ['spec', 'replicas', 'base'], message: `base (${base}) must not exceed max (${max})` });
    if (min > max) issues.push({ path: ['spec', 'replicas', 'min'], message: `min (${min}) must not exceed max (${max})` });
    const intervalMs = loadInterval(spec, issues);
    const staleAfterMs = parseDuration(spec.staleAfter);
    if (staleAfterMs < intervalMs) {
      issues.push({ path: ['spec', 'staleAfter'], message: `staleAfter (${spec.staleAfter}) must be at least the interval (${spec.interval})` });
    }
    const f = spec.onSourceFailure;
    if (f.action === 'fixed' && (f.replicas < min || f.replicas > cap)) {
      issues.push({ path: ['spec', 'onSourceFailure', 'replicas'], message: `fixed replicas (${f.replicas}) must lie within min..cap (${min}..${cap})` });
    }
    issues.push(...loadIssues(spec.load));
    if (issues.length) return { issues };
    return {
      value: {
        kind: 'ScalingPolicy',
        ...namespacedIdentity(doc, origin),
        target: workloadRef(spec.target),
        ...compileLoadReading(spec),
        replicas: { min, base, max, cap },
        step: spec.step,
        intervalMs,
        staleAfterMs,
        onSourceFailure: f.action === 'fixed' ? { action: 'fixed', replicas: f.replicas, after: f.after ?? 3 } : { action: 'hold', after: f.after ?? 3 },
      },
    };
  },
};
