// What the running servers know about each policy (last scaling decision, migration state), kept in memory for the
// status writer, metrics and logs. Filled by the adapter; read by src/status/status-controller.ts. No I/O.
import type { MigrationPolicy, ScalingPolicy } from '../policy/types.js';
import type { Decision } from '../scaling/planner.js';
import type { MigrationState } from '../scaling/migration.js';

export const scalingKey = (p: Pick<ScalingPolicy, 'namespace' | 'name'>) => `${p.namespace}/${p.name}`;

export class PolicyObservations {
  private readonly decisions = new Map<string, { decision: Decision; policy?: ScalingPolicy }>();
  private evaluator: ((p: ScalingPolicy) => Promise<Decision>) | undefined;
  private migrationStates: ((p: MigrationPolicy) => MigrationState | undefined) | undefined;

  /** The adapter records every decision it makes (namespace/name), with the policy version it decided for. */
  recordDecision(key: string, d: Decision, policy?: ScalingPolicy): void {
    this.decisions.set(key, policy ? { decision: d, policy } : { decision: d });
  }

  decision(key: string): Decision | undefined {
    return this.decisions.get(key)?.decision;
  }

  /** False when the last decision was made for another version of the policy (before a reload). */
  decidedFor(key: string, policy: ScalingPolicy): boolean {
    const e = this.decisions.get(key);
    return e !== undefined && (e.policy === undefined || e.policy === policy);
  }

  forget(key: string): void {
    this.decisions.delete(key);
  }

  /** Set by the adapter: evaluates a policy for this interval (shared with HPA requests, one evaluation per interval). */
  setScalingEvaluator(f: ((p: ScalingPolicy) => Promise<Decision>) | undefined): void {
    this.evaluator = f;
  }

  /** undefined without an adapter in this process. */
  evaluate(p: ScalingPolicy): Promise<Decision> | undefined {
    return this.evaluator?.(p);
  }

  /** Set by the migration wiring: the state cache (read from the source workloads, shared by every replica). */
  setMigrationStates(f: ((p: MigrationPolicy) => MigrationState | undefined) | undefined): void {
    this.migrationStates = f;
  }

  migrationState(p: MigrationPolicy): MigrationState | undefined {
    return this.migrationStates?.(p);
  }
}
