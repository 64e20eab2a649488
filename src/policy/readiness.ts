// When the policies in force may be trusted to enforce: every source read once and, until then, nothing invalid.
import type { PolicyStore } from './store.js';
import { formatPolicyError } from './types.js';

/** A policy source as readiness sees it: synced() is true once it has been read completely, otherwise why not. */
export interface PolicySourceProbe {
  readonly name: string;
  synced(): true | string;
}

/**
 * Not ready until every source has been read once and, at that point, every policy it gave was valid: a rollout with a
 * broken policy stalls on the new pod while the old pods keep enforcing. Once ready, stays ready: a broken update
 * later leaves the last good version in force (reported through metrics and logs, not by dropping out of service).
 */
export class PolicyReadiness {
  private ready = false;

  constructor(
    private readonly store: PolicyStore,
    private readonly sources: readonly PolicySourceProbe[],
  ) {}

  /** true, or one reason per line (sources not read yet, then each invalid document as file:line: path: message). */
  check(): true | string[] {
    if (this.ready) return true;
    const reasons: string[] = [];
    for (const s of this.sources) {
      const r = s.synced();
      if (r !== true) reasons.push(`${s.name}: ${r}`);
    }
    for (const e of this.store.lastErrors()) reasons.push(formatPolicyError(e));
    if (reasons.length) return reasons;
    this.ready = true;
    return true;
  }
}
