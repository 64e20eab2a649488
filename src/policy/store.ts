// Holds the policy set in force. Each source (files, cluster) offers candidates; a source's candidate replaces that
// source's contribution only when it has no errors, so one bad file or object never replaces the last good set.
import { buildPolicySet, EMPTY_POLICY_SET, type PolicySet } from './policy-set.js';
import type { AnyPolicy } from './parse.js';
import type { PolicyError } from './types.js';

export type PolicyListener = (set: PolicySet) => void;

export interface ReloadOutcome {
  readonly applied: boolean;
  readonly errors: readonly PolicyError[];
  readonly set: PolicySet;
}

export class PolicyStore {
  private set: PolicySet = EMPTY_POLICY_SET;
  private readonly good = new Map<string, readonly AnyPolicy[]>();
  private readonly errors = new Map<string, readonly PolicyError[]>();
  private readonly listeners = new Set<PolicyListener>();

  current(): PolicySet {
    return this.set;
  }

  /** Errors of the last rejected candidate of each source; empty once every source's candidate is applied. */
  lastErrors(): readonly PolicyError[] {
    return [...this.errors.values()].flat();
  }

  /** Offers the complete candidate of one source (default "files"): its parsed policies and parse errors. */
  offer(policies: readonly AnyPolicy[], parseErrors: readonly PolicyError[], source = 'files'): ReloadOutcome {
    if (parseErrors.length) return this.reject(source, parseErrors);
    const merged = [...this.good.entries()].flatMap(([name, list]) => (name === source ? [] : list)).concat(policies);
    const built = buildPolicySet(merged, this.set.generation + 1);
    if (!built.set) return this.reject(source, built.errors);
    this.good.set(source, policies);
    this.errors.delete(source);
    this.set = built.set;
    for (const l of this.listeners) l(this.set);
    return { applied: true, errors: [], set: this.set };
  }

  private reject(source: string, errors: readonly PolicyError[]): ReloadOutcome {
    this.errors.set(source, errors);
    return { applied: false, errors, set: this.set };
  }

  onChange(listener: PolicyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
