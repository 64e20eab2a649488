// The inputs of one review: what the engine knows about the request besides the object itself.
import type { Labels } from '../common/labels.js';
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
  /** The container a resources finding is about: UPDATE matches it by list and name, not by index (existing.ts). */
  readonly container?: Record<string, unknown>;
  /**
   * The offending value as the object holds it (absent where a value is missing; the count for too many
   * containers): on UPDATE a violation the old object had passes only if this is not worse (existing.ts).
   * References only: a finding allocates nothing for UPDATE unless an UPDATE asks.
   */
  readonly value?: unknown;
}

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
