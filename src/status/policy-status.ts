// The status of one policy (Valid and Ready conditions, plus what its kind shows) from what the server knows: the
// compile outcome, whether the policy is in force, and the adapter's last decision or migration state. Pure.
import type { AnyPolicy } from '../policy/parse.js';
import type { MigrationPolicy, PolicyError } from '../policy/types.js';
import { publishedReplicas, type MigrationState } from '../scaling/migration.js';
import type { Decision } from '../scaling/planner.js';

export type PolicyKindName = 'ScalingPolicy' | 'MigrationPolicy' | 'GovernancePolicy';

/** A policy as the status sees it: a cluster object or a document in a file. */
export interface PolicyEntry {
  readonly kind: PolicyKindName;
  readonly namespace?: string;
  readonly name: string;
  /** metadata.generation (cluster objects). */
  readonly generation?: number;
  /** Problems of this document alone (schema and semantic checks): empty when valid. */
  readonly errors: readonly PolicyError[];
  /** The version of this policy in force (possibly an earlier one), if any. */
  readonly inForce?: AnyPolicy;
  /** Problems across policies that name this one (duplicate target, missing reference). */
  readonly setErrors: readonly PolicyError[];
}

export interface PolicyFacts {
  readonly decision?: Decision;
  readonly migration?: MigrationState;
}

export interface Condition {
  readonly type: 'Valid' | 'Ready';
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
}

export type PolicyStatus = Record<string, unknown> & { readonly conditions: readonly Condition[]; readonly observedGeneration?: number };

/** Condition messages are cut here (the CRD allows 4096 characters; kubectl describe stays readable). */
export const MAX_MESSAGE = 1024;

function clip(s: string, n = MAX_MESSAGE): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function problems(errors: readonly PolicyError[]): string {
  // The object is its own "file": path and message are what matter here.
  return clip(errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; '));
}

/**
 * Stable on purpose: a condition changes when the policy's state does, not with every load value (that would make
 * every evaluation an urgent write and a log line). The decision itself is in the other status fields.
 */
function scalingReadyMessage(d: Decision | undefined): string {
  if (!d) return 'in force; not evaluated yet on this replica (the next HPA request or status refresh evaluates it)';
  if (d.replicas === undefined) return 'in force, but no value to publish (see status.source)';
  return 'in force';
}

/** The status to write (or log), keeping each condition's lastTransitionTime from `previous` while it holds. */
export function computeStatus(e: PolicyEntry, facts: PolicyFacts, previous: Partial<PolicyStatus> | undefined, nowIso: string): PolicyStatus {
  const gen = e.generation;
  const valid = e.errors.length === 0;
  const conds: Omit<Condition, 'lastTransitionTime'>[] = [];
  conds.push(valid ? { type: 'Valid', status: 'True', reason: 'Valid', message: 'the spec passed every check' } : { type: 'Valid', status: 'False', reason: 'Invalid', message: problems(e.errors) });
  let ready: Omit<Condition, 'lastTransitionTime' | 'type'>;
  if (e.inForce && valid) {
    const msg =
      e.kind === 'ScalingPolicy' ? scalingReadyMessage(facts.decision)
      : e.kind === 'GovernancePolicy' ? `in force (${e.inForce.kind === 'GovernancePolicy' ? e.inForce.mode : 'enforce'} mode)`
      : 'in force';
    ready = { status: 'True', reason: 'InForce', message: msg };
  } else if (e.inForce) {
    ready = { status: 'True', reason: 'PreviousVersionInForce', message: 'the last valid version stays in force until this one is fixed' };
  } else if (!valid) {
    ready = { status: 'False', reason: 'Invalid', message: 'not in force: the spec is invalid (see the Valid condition)' };
  } else if (e.setErrors.length) {
    ready = { status: 'False', reason: 'Conflict', message: clip(`not in force: ${problems(e.setErrors)}`) };
  } else {
    ready = { status: 'Unknown', reason: 'Pending', message: 'valid, not loaded yet' };
  }
  conds.push({ type: 'Ready', ...ready });

  const prevConds = (previous?.conditions ?? []) as readonly Condition[];
  const conditions: Condition[] = conds.map((c) => {
    const before = prevConds.find((p) => p.type === c.type);
    return { ...c, ...(gen !== undefined ? { observedGeneration: gen } : {}), lastTransitionTime: before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : nowIso };
  });
  const out: Record<string, unknown> = { ...(gen !== undefined ? { observedGeneration: gen } : {}), conditions };

  if (e.kind === 'ScalingPolicy' && e.inForce && facts.decision) {
    const d = facts.decision;
    if (d.replicas !== undefined) out.replicas = d.replicas;
    if (d.regime) out.regime = d.regime;
    out.basis = d.basis;
    if (d.load !== undefined && Number.isFinite(d.load)) out.load = d.load;
    if (d.loadAtMs !== undefined) out.loadTime = iso(d.loadAtMs);
    out.decisionTime = iso(d.atMs);
    out.source = {
      healthy: d.basis === 'load' && !d.stale,
      consecutiveFailures: d.failures,
      ...(d.basis !== 'load' || d.stale ? { message: clip(d.error ?? d.reason) } : {}),
    };
  }
  if (e.kind === 'MigrationPolicy' && e.inForce) {
    const s = facts.migration;
    out.phase = s?.phase ?? 'Pending';
    if (s && e.inForce.kind === 'MigrationPolicy') {
      const pub = publishedReplicas(e.inForce as MigrationPolicy, s);
      out.sourceReplicas = pub.source;
      out.targetReplicas = pub.target;
    }
  }
  if (e.kind === 'GovernancePolicy') out.inForce = Boolean(e.inForce);
  return out as PolicyStatus;
}

// Fields that change on every evaluation without saying anything new.
const VOLATILE = new Set(['decisionTime', 'loadTime']);

/**
 * 'urgent' when a condition, the decided replicas, the regime, the basis, the source's health or a phase changed
 * (written first, without waiting), 'fields' when only other fields did (a new load value, which changes on every
 * evaluation: written at most every minWriteInterval),
 * 'none' otherwise.
 */
export function statusChange(prev: Partial<PolicyStatus> | undefined, next: PolicyStatus): 'none' | 'fields' | 'urgent' {
  const cond = (s: Partial<PolicyStatus> | undefined) =>
    JSON.stringify(((s?.conditions ?? []) as Condition[]).map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration]).sort());
  const health = (s: Partial<PolicyStatus> | undefined) =>
    JSON.stringify([(s?.source as { healthy?: boolean } | undefined)?.healthy, s?.replicas, s?.regime, s?.basis, s?.phase, s?.sourceReplicas, s?.targetReplicas, s?.inForce]);
  if (cond(prev) !== cond(next) || health(prev) !== health(next)) return 'urgent';
  const rest = (s: Partial<PolicyStatus> | undefined) =>
    // Any fixed order will do: both sides are sorted alike.
    JSON.stringify(Object.entries(s ?? {}).filter(([k]) => k !== 'conditions' && !VOLATILE.has(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return rest(prev) === rest(next) ? 'none' : 'fields';
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386: what `next` lacks but `prev` has becomes null (removed), nested objects included; arrays are replaced. */
function mergeDiff(prev: Record<string, unknown>, next: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(next)) out[k] = isPlainObject(v) && isPlainObject(prev[k]) ? mergeDiff(prev[k] as Record<string, unknown>, v) : v;
  for (const k of Object.keys(prev)) if (!(k in next)) out[k] = null;
  return out;
}

/** The JSON merge patch body that makes `prev` into `next`. */
export function statusPatch(prev: Partial<PolicyStatus> | undefined, next: PolicyStatus): { status: Record<string, unknown> } {
  return { status: mergeDiff((prev ?? {}) as Record<string, unknown>, next) };
}

/** One line for the log: the same information the status carries. */
export function describeStatus(id: string, s: PolicyStatus): Record<string, unknown> {
  const c = (t: string) => s.conditions.find((x) => x.type === t);
  return {
    policy: id,
    valid: c('Valid')?.status,
    ready: c('Ready')?.status,
    reason: c('Ready')?.reason,
    ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'conditions' && k !== 'observedGeneration' && !VOLATILE.has(k))),
  };
}
