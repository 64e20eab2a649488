// Holds the policy set in force; a candidate set replaces it only when it has no errors (the last good set stays otherwise).
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
  private errors: readonly PolicyError[] = [];
  private readonly listeners = new Set<PolicyListener>();

  current(): PolicySet {
    return this.set;
  }

  /** Errors of the last rejected candidate; empty once a candidate is applied. */
  lastErrors(): readonly PolicyError[] {
    return this.errors;
  }

  /** Offers a candidate: parse errors plus the parsed policies. Applies it only when everything is valid. */
  offer(policies: readonly AnyPolicy[], parseErrors: readonly PolicyError[]): ReloadOutcome {
    const built = parseErrors.length ? { errors: [] as PolicyError[] } : buildPolicySet(policies, this.set.generation + 1);
    const errors = [...parseErrors, ...built.errors];
    if (errors.length || !built.set) {
      this.errors = errors;
      return { applied: false, errors, set: this.set };
    }
    this.set = built.set;
    this.errors = [];
    for (const l of this.listeners) l(this.set);
    return { applied: true, errors: [], set: this.set };
  }

  onChange(listener: PolicyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
