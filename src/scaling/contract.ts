// The contract between governor and the HPAs (or KEDA ScaledObjects) that read it: the external metric's name and the
// labels its values carry and are selected by. One definition for the adapter, the scaler, the generators and tests.

/** The external metric governor publishes; one name across adapter, scaler, generators and docs. */
export const DESIRED_REPLICAS_METRIC = 'desired-replicas';
/** Selects the policy (by name, in the HPA's namespace) whose value an HPA reads. */
export const POLICY_LABEL = 'governor.io/policy';
/**
 * Selects the side of a MigrationPolicy an HPA reads (source or target); a metric label, not the workload label
 * governor.io/migration-role (MIGRATION_ROLE_LABEL) that governance checks on Deployments: the HPA selector must not
 * depend on labels a team puts on its workloads.
 */
export const METRIC_ROLE_LABEL = 'governor.io/role';
/** Informational metric labels: the workload a value is for. */
export const TARGET_KIND_LABEL = 'governor.io/target-kind';
export const TARGET_NAME_LABEL = 'governor.io/target-name';
/** On every object governor generates (HPAs, ScaledObjects). */
export const MANAGED_BY_LABELS = { 'app.kubernetes.io/managed-by': 'kube-governor' } as const;

/** The side of a migration a value (and its HPA) is for; a ScalingPolicy's one workload counts as its target. */
export type WorkloadRole = 'target' | 'source';
