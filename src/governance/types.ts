// The inputs of one review: what the engine knows about the request besides the object itself.
import type { Labels } from '../common/labels.js';
import type { RuleName, WorkloadKind } from '../policy/governance-policy.js';
import type { Path } from './json-patch.js';
import type { PodLocation } from './pod-template.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** A namespace's labels and annotations (from the namespace cache, or Namespace objects / flags in the CLI). */
export interface NamespaceInfo {
  readonly labels: Labels;
  readonly annotations: Labels;
}

export interface ReviewContext {
  /** API group of the object ("" for core, "apps", "batch"). When absent it is read from the object's apiVersion. */
  readonly group?: string;
  /** Kind of the object; when absent it is read from the object. */
  readonly kind?: string;
  /** API version of the object ("v1", "v1beta1"); when absent it is read from the object's apiVersion. */
  readonly version?: string;
  readonly namespace: string;
  /** Object name (may be empty on CREATE with generateName). When absent it is read from the object. */
  readonly name?: string;
  /** Default CREATE. */
  readonly operation?: Operation;
  /** undefined: the namespace is unknown; its labels count as empty (plus kubernetes.io/metadata.name). */
  readonly namespaceInfo?: NamespaceInfo;
  /** The stored object, on UPDATE and DELETE. */
  readonly oldObject?: unknown;
  /**
   * Who sent the request (request.userInfo.username). Only a workload controller (workload-controllers.ts) makes a
   * violation of a controller-owned object a warning: its template was checked when its owner was admitted.
   */
  readonly requestedBy?: string;
  /**
   * When the review must stop, in ms on the engine's clock (GovernanceEngineOptions.now, default performance.now).
   * Checked between policies; past it, the policies not yet evaluated are reported as `unfinished`. Absent: no limit.
   */
  readonly deadline?: number;
}

/**
 * Injected by the migration engine: the MigrationPolicy name when the workload is the source of a running
 * migration, else undefined. Must be fast and must not throw (it runs on the admission path).
 */
export type ActiveMigrationSource = (namespace: string, kind: string, name: string) => string | undefined;

/** A rule family's raw finding before the engine attaches policy, mode, exceptions and status. */
export interface Finding {
  readonly rule: RuleName;
  readonly path: Path;
  readonly message: string;
  /** error: the value could not be evaluated (e.g. an unparseable quantity); default fail. */
  readonly status?: 'fail' | 'error';
  /** The container a resources finding is about: UPDATE matches it by list and name, not by index (existing.ts). */
  readonly container?: Record<string, unknown>;
  /**
   * The offending value as the object holds it (absent where a value is missing; the count for too many
   * containers): on UPDATE a violation the old object had passes only if this is not worse (existing.ts).
   * References only: a finding allocates nothing for UPDATE unless an UPDATE asks.
   */
  readonly value?: unknown;
  /**
   * For a `containers: any` finding, the check no container satisfies (requests.cpu, max.memory): with the rule and
   * path, its identity on UPDATE (existing.ts).
   */
  readonly check?: string;
}

/** When a review must stop (ms on `now`), for the loops over an object's parts (containers, findings). */
export interface Deadline {
  readonly at: number;
  readonly now: () => number;
}

/** Thrown by a loop that finds its deadline passed; the engine turns it into `unfinished` policies. */
export class ReviewDeadlineExceeded extends Error {
  override name = 'ReviewDeadlineExceeded';
}

/** Reads the clock every 64 steps (`step` counts from 0): a clock read costs about what one step does. */
export function checkDeadline(deadline: Deadline | undefined, step: number): void {
  if (deadline !== undefined && (step & 63) === 63 && deadline.now() >= deadline.at) throw new ReviewDeadlineExceeded('review deadline exceeded');
}

/** What the rule families see of the object under review. */
export interface Target {
  readonly kind: string;
  readonly group: string;
  readonly version: string;
  /** Set for the kinds that carry a pod spec: resource and migration rules act on these only. */
  readonly workload: WorkloadKind | undefined;
  readonly namespace: string;
  readonly name: string;
  readonly operation: Operation;
  readonly obj: Record<string, unknown>;
  /** Where the pod spec and pod metadata are (undefined: the kind carries no pod spec). */
  readonly location: PodLocation | undefined;
  readonly namespaceInfo: NamespaceInfo;
  readonly activeMigrationSource: ActiveMigrationSource;
  /** Set when the review has a deadline: loops over the object's containers check it (an object may hold thousands). */
  readonly deadline?: Deadline;
}

