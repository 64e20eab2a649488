// The inputs of one review: what the engine knows about the request besides the object itself.
import type { Labels } from '../common/labels.js';
import type { Quantity } from '../common/quantity.js';
import type { GovernancePolicy, RuleName, WorkloadKind } from '../policy/governance-policy.js';
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
  readonly namespace: string;
  /** Object name (may be empty on CREATE with generateName). When absent it is read from the object. */
  readonly name?: string;
  /** Default CREATE. */
  readonly operation?: Operation;
  /** undefined: the namespace is unknown; its labels count as empty (plus kubernetes.io/metadata.name). */
  readonly namespaceInfo?: NamespaceInfo;
  /** The stored object, on UPDATE and DELETE. */
  readonly oldObject?: unknown;
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
  /**
   * Names the violation across an UPDATE whatever the list positions (rule, container field and name, resource);
   * absent: the rule and the path.
   */
  readonly key?: string;
  /** How far out of bounds: on UPDATE a violation the old object had passes only if this is not worse (existing.ts). */
  readonly degree?: Degree;
}

/** What "not worse" compares, per kind of rule. */
export type Degree =
  /** max-resources: the new value must be at most the old one. */
  | { readonly kind: 'quantity'; readonly value: Quantity; readonly text: string }
  /** max-limit-request-ratio: the new limit/request at most the old one (request 0: unbounded). */
  | { readonly kind: 'ratio'; readonly limit: Quantity; readonly request: Quantity; readonly text: string }
  /** required and allowed-value rules, unreadable values: the same value as before (undefined: still absent). */
  | { readonly kind: 'same'; readonly value: string | undefined; readonly text: string }
  /** Too many containers to check: at most as many as before. */
  | { readonly kind: 'count'; readonly value: number; readonly text: string };

/** What the rule families see of the object under review. */
export interface Target {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
  readonly operation: Operation;
  readonly obj: Record<string, unknown>;
  readonly location: PodLocation;
  readonly namespaceInfo: NamespaceInfo;
  readonly activeMigrationSource: ActiveMigrationSource;
}

export type RuleAllowed = (policy: GovernancePolicy, rule: RuleName) => boolean;
