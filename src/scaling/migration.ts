// Progressive migration, the design's second model: the source's replicas R′ drain with load while the target grows
// so that source + target never drops below the capacity to keep. Pure: the caller supplies clock, load and capacity.
//
// Each interval on the grid shared by every governor replica (bucket = floor(now / interval), as the planner):
//   L < Tmin            R′(t+1) = R′(t)                                   (below: hold)
//   Tmin <= L <= Tmax   R′(t+1) = R′(t) − (L − Tmin)/(Tmax − Tmin) · ΔR    (proportional)
//   L > Tmax            R′(t+1) = R′(t) − ΔR                              (overload)
//   in every regime at least minDrain, never below 0.
// R′ stays fractional in the state; only what is published is rounded (source: ceil, so capacity holds).
// Published: source = max(ceil(R′), C − target.max), target = clamp(C − source, target.min, target.max), where C is
// the capacity ({replicas} or a ScalingPolicy's current decision; default R′(0)).
import type { MigrationPolicy, Thresholds } from '../policy/types.js';
import { isValidLoad, type Regime } from './formula.js';
import { bucketOf } from './planner.js';

export type MigrationPhase = 'Pending' | 'Migrating' | 'Paused' | 'RollingBack' | 'Completed' | 'RolledBack';

/** Phases in which the source still matters: deleting it would lose the replicas the migration counts on. */
export const RUNNING_PHASES: ReadonlySet<MigrationPhase> = new Set(['Pending', 'Migrating', 'Paused', 'RollingBack']);

/** The policy fields the model reads; MigrationPolicy satisfies it. */
export interface MigrationParams {
  readonly thresholds: Thresholds;
  readonly step: number;
  readonly minDrain: number;
  readonly intervalMs: number;
  readonly base?: number;
  readonly target: { readonly minReplicas: number; readonly maxReplicas?: number };
}

/** What survives a restart of governor (persisted on the cluster, never only in memory). */
export interface MigrationState {
  readonly phase: MigrationPhase;
  /** R′(t), fractional. */
  readonly sourceExact: number;
  /** R′(0): where the source started, and where a rollback returns it. */
  readonly base: number;
  readonly startedAtMs: number;
  /** Grid slot of the last evaluation (a step, a hold or an action). */
  readonly lastBucket: number;
  readonly lastStepAtMs: number;
  /** The capacity used at the last evaluation; reused while the capacity is unknown. */
  readonly capacity: number;
  /** The phase `resume` returns to. */
  readonly resumeTo?: 'Migrating' | 'RollingBack';
}

export interface DrainResult {
  /** Replicas removed from R′ this interval (before the floor at 0). */
  readonly amount: number;
  readonly regime: Regime;
}

const clean = (x: number) => Math.round(x * 1e9) / 1e9;

/** The drain for one interval at load L (the design's formula, then at least minDrain). */
export function drainAmount(load: number, p: Pick<MigrationParams, 'thresholds' | 'step' | 'minDrain'>): DrainResult {
  const { low, high } = p.thresholds;
  let regime: Regime;
  let amount: number;
  if (load < low) {
    regime = 'below';
    amount = 0;
  } else if (load <= high) {
    regime = 'proportional';
    const span = high - low;
    amount = span > 0 ? ((load - low) / span) * p.step : p.step;
  } else {
    regime = 'overload';
    amount = p.step;
  }
  return { amount: Math.max(amount, p.minDrain), regime };
}

/** Whole replicas published for R′: ceil with float noise stripped (3 − 0.1·10 must give 2, not 3). */
export function roundSource(exact: number): number {
  return Math.max(0, Math.ceil(clean(exact)));
}

export interface PublishedReplicas {
  readonly source: number;
  readonly target: number;
  readonly capacity: number;
}

/**
 * The two values published on the external metrics API for a state and a capacity.
 *
 * targetReady (the target workload's Ready pods; undefined: unknown, treated as "Ready at once", the old behaviour):
 * the target grows with R′, but the source is drained only by as many replicas as the target has Ready, so that
 * Ready source + Ready target never drops below the capacity while the new pods start.
 */
export function publishedReplicas(p: MigrationParams, state: MigrationState, capacity: number = state.capacity, targetReady?: number): PublishedReplicas {
  const tMax = p.target.maxReplicas ?? Number.POSITIVE_INFINITY;
  // When the target is full, the source keeps carrying the rest so that source + target >= capacity still holds.
  const planned = Math.max(roundSource(state.sourceExact), capacity - tMax, 0);
  const target = Math.min(tMax, Math.max(p.target.minReplicas, capacity - planned));
  const ready = targetReady !== undefined && Number.isFinite(targetReady) && targetReady >= 0 ? Math.floor(targetReady) : undefined;
  const source = ready === undefined ? planned : Math.max(planned, capacity - ready);
  return { source, target, capacity };
}

export class MigrationStartError extends Error {
  override name = 'MigrationStartError';
}

/** The state of a migration that starts now: R′(0) = policy.base, else the source's live replica count. */
export function startMigration(p: MigrationParams, input: { nowMs: number; liveSourceReplicas?: number; capacity?: number }): MigrationState {
  const base = p.base ?? input.liveSourceReplicas;
  if (base === undefined || !Number.isFinite(base) || base < 0) {
    throw new MigrationStartError('cannot start: spec.base is not set and the source replica count is unknown');
  }
  return {
    phase: 'Migrating',
    sourceExact: base,
    base,
    startedAtMs: input.nowMs,
    lastBucket: bucketOf(input.nowMs, p.intervalMs),
    lastStepAtMs: input.nowMs,
    capacity: input.capacity ?? base,
  };
}

export interface StepInput {
  readonly nowMs: number;
  /** This interval's load; undefined or invalid: the migration holds (no drain on an unknown load). */
  readonly load?: number;
  /** C for this interval; undefined: the last known capacity. */
  readonly capacity?: number;
  /**
   * The target workload's Ready pods (status.readyReplicas). A drained source (R′ = 0) is Completed only once the target
   * has its replicas Ready, since Completed lets the source be deleted. undefined: not tracked (offline models, targets
   * whose readiness cannot be read): Completed at R′ = 0; null: could not be read this interval: not Completed yet.
   */
  readonly targetReady?: number | null;
}

export interface StepResult {
  readonly state: MigrationState;
  /** False when the bucket was already evaluated (the state is returned unchanged). */
  readonly stepped: boolean;
  /** Replicas R′ moved this interval (negative while migrating, positive while rolling back). */
  readonly delta: number;
  readonly regime?: Regime;
  /** One line for logs and `governor migrate status`. */
  readonly reason: string;
}

/** Rollback speed: a full step per interval whatever the load, so an operator's rollback always ends. */
function rollbackAmount(p: MigrationParams): number {
  return Math.max(p.step, p.minDrain, 1);
}

/** What a drained migration still waits for before Completed (the target's Ready pods), or undefined if nothing. */
function targetShortfall(p: MigrationParams, state: MigrationState, capacity: number, targetReady: number | null | undefined): string | undefined {
  if (targetReady === undefined) return undefined;
  const needed = publishedReplicas(p, { ...state, sourceExact: 0 }, capacity).target;
  if (targetReady === null || !Number.isFinite(targetReady)) return `the target's Ready pods (${needed} needed; they could not be read)`;
  return targetReady >= needed ? undefined : `the target's Ready pods (${Math.max(0, Math.floor(targetReady))} of ${needed})`;
}

/** Advances the migration by one interval, at most once per grid slot. */
export function stepMigration(p: MigrationParams, state: MigrationState, input: StepInput): StepResult {
  const bucket = bucketOf(input.nowMs, p.intervalMs);
  if (bucket <= state.lastBucket) return { state, stepped: false, delta: 0, reason: 'already evaluated in this interval' };
  const capacity = input.capacity !== undefined && Number.isFinite(input.capacity) && input.capacity >= 0 ? input.capacity : state.capacity;
  const at = { lastBucket: bucket, lastStepAtMs: input.nowMs, capacity };
  switch (state.phase) {
    case 'Migrating': {
      if (state.sourceExact <= 0) {
        // Drained in an earlier interval: only the target's readiness is left to wait for (the load no longer matters).
        const waiting = targetShortfall(p, state, capacity, input.targetReady);
        const phase: MigrationPhase = waiting ? 'Migrating' : 'Completed';
        return { state: { ...state, ...at, phase }, stepped: true, delta: 0, reason: waiting ? `drained, R′ 0: waiting for ${waiting}` : 'drained, R′ 0: completed' };
      }
      if (input.load === undefined || !isValidLoad(input.load)) {
        return { state: { ...state, ...at }, stepped: true, delta: 0, reason: `load unavailable: holding R′ at ${fmt(state.sourceExact)}` };
      }
      const d = drainAmount(input.load, p);
      const next = Math.max(0, clean(state.sourceExact - d.amount));
      const waiting = next <= 0 ? targetShortfall(p, state, capacity, input.targetReady) : undefined;
      const phase: MigrationPhase = next <= 0 && !waiting ? 'Completed' : 'Migrating';
      const end = phase === 'Completed' ? ': completed' : waiting ? `: waiting for ${waiting}` : '';
      return {
        state: { ...state, ...at, sourceExact: next, phase },
        stepped: true,
        delta: next - state.sourceExact,
        regime: d.regime,
        reason: `load ${input.load} (${d.regime}): drained ${fmt(state.sourceExact - next)}, R′ ${fmt(next)}${end}`,
      };
    }
    case 'RollingBack': {
      const next = Math.min(state.base, clean(state.sourceExact + rollbackAmount(p)));
      const phase: MigrationPhase = next >= state.base ? 'RolledBack' : 'RollingBack';
      return {
        state: { ...state, ...at, sourceExact: next, phase },
        stepped: true,
        delta: next - state.sourceExact,
        reason: `rolling back: R′ ${fmt(next)} of ${state.base}${phase === 'RolledBack' ? ': rolled back' : ''}`,
      };
    }
    default:
      return { state: { ...state, ...at }, stepped: true, delta: 0, reason: `${state.phase}: R′ held at ${fmt(state.sourceExact)}` };
  }
}

export type MigrationAction = 'pause' | 'resume' | 'rollback';

/** An operator action's outcome: the new state, or why the action does not apply (a value, not an exception). */
export type ActionOutcome = { readonly ok: true; readonly state: MigrationState } | { readonly ok: false; readonly reason: string };

/** pause: Migrating/RollingBack → Paused; resume: Paused → the phase it came from; rollback: → RollingBack. */
export function applyMigrationAction(state: MigrationState, action: MigrationAction): ActionOutcome {
  switch (action) {
    case 'pause':
      if (state.phase === 'Migrating' || state.phase === 'RollingBack') return { ok: true, state: { ...state, phase: 'Paused', resumeTo: state.phase } };
      return { ok: false, reason: `cannot pause a migration in phase ${state.phase}` };
    case 'resume': {
      if (state.phase !== 'Paused') return { ok: false, reason: `cannot resume a migration in phase ${state.phase} (only Paused)` };
      const { resumeTo, ...rest } = state;
      return { ok: true, state: { ...rest, phase: resumeTo ?? 'Migrating' } };
    }
    case 'rollback': {
      if (state.phase === 'RolledBack' || state.phase === 'RollingBack') return { ok: false, reason: `the migration is already ${state.phase}` };
      if (state.phase === 'Pending') return { ok: false, reason: 'the migration has not started' };
      const { resumeTo: _r, ...rest } = state;
      return { ok: true, state: { ...rest, phase: state.sourceExact >= state.base ? 'RolledBack' : 'RollingBack' } };
    }
  }
}

function fmt(x: number): string {
  return String(Math.round(x * 1000) / 1000);
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation against persisted state: the state lives on the cluster so a restarted or second governor replica
// continues where the first left off; a conditional write makes the replicas agree on one step per interval.

/**
 * What a store read returns: the state (absent: the migration has not started) and an opaque version for optimistic
 * concurrency (on the cluster, the resourceVersion of the object that carries the state, present even without state).
 */
export interface StoredMigrationState {
  readonly state?: MigrationState;
  readonly version?: string;
}

export interface MigrationKey {
  readonly namespace: string;
  readonly name: string;
  readonly source: { readonly apiVersion: string; readonly kind: string; readonly name: string };
}

/** Where migration state persists. Implementations: the cluster (src/kube/migration-state.ts) and a fake for tests. */
export interface MigrationStateStore {
  read(key: MigrationKey): Promise<StoredMigrationState>;
  /** Stores the state if the version is still the one `read` returned; false on conflict (someone wrote in between). */
  write(key: MigrationKey, state: MigrationState, version: string | undefined): Promise<boolean>;
}

export interface MigrationDecision {
  readonly phase: MigrationPhase;
  readonly bucket: number;
  /** undefined in Pending (nothing to publish until R′(0) is known). */
  readonly published?: PublishedReplicas;
  readonly state?: MigrationState;
  readonly reason: string;
  readonly regime?: Regime;
}

export interface EvaluateInput extends StepInput {
  /** The source's live replica count, used as R′(0) when spec.base is not set. */
  readonly liveSourceReplicas?: number;
}

export function migrationKey(p: Pick<MigrationPolicy, 'namespace' | 'name' | 'source'>): MigrationKey {
  return { namespace: p.namespace, name: p.name, source: p.source };
}

/**
 * Reads the state from the store, starts the migration or steps it once for this interval, writes it back, and
 * returns what to publish. When another governor replica wrote first (conflict), its state wins and is re-read.
 */
export async function evaluateMigration(p: MigrationParams & MigrationKey, store: MigrationStateStore, input: EvaluateInput): Promise<MigrationDecision> {
  const key = migrationKey(p);
  const bucket = bucketOf(input.nowMs, p.intervalMs);
  for (let attempt = 0; attempt < 3; attempt++) {
    const stored = await store.read(key);
    let next: MigrationState;
    let reason: string;
    let regime: Regime | undefined;
    if (!stored.state) {
      if (p.base === undefined && input.liveSourceReplicas === undefined) {
        return { phase: 'Pending', bucket, reason: 'waiting for the source replica count (spec.base is not set)' };
      }
      next = startMigration(p, input);
      reason = `started with R′(0) = ${next.base}`;
    } else {
      const r = stepMigration(p, stored.state, input);
      if (!r.stepped) {
        return { phase: stored.state.phase, bucket, state: stored.state, published: publishedReplicas(p, stored.state, stored.state.capacity), reason: r.reason };
      }
      next = r.state;
      reason = r.reason;
      regime = r.regime;
    }
    if (await store.write(key, next, stored.version)) {
      return { phase: next.phase, bucket, state: next, published: publishedReplicas(p, next, next.capacity), reason, ...(regime ? { regime } : {}) };
    }
  }
  // Three conflicts in a row: publish what is stored rather than nothing.
  const stored = await store.read(key);
  if (!stored.state) return { phase: 'Pending', bucket, reason: 'state could not be written' };
  return { phase: stored.state.phase, bucket, state: stored.state, published: publishedReplicas(p, stored.state, stored.state.capacity), reason: 'state written by another replica' };
}

/** An in-memory store for tests and offline use; `failNextWrites` simulates another replica winning. */
export class FakeMigrationStateStore implements MigrationStateStore {
  private readonly states = new Map<string, { state?: MigrationState; version: string }>();
  private counter = 0;
  failNextWrites = 0;
  writes = 0;
  private id(k: MigrationKey): string {
    return `${k.namespace}/${k.source.kind}/${k.source.name}`;
  }
  async read(key: MigrationKey): Promise<StoredMigrationState> {
    return this.states.get(this.id(key)) ?? {};
  }
  async write(key: MigrationKey, state: MigrationState, version: string | undefined): Promise<boolean> {
    if (this.failNextWrites > 0) {
      this.failNextWrites--;
      return false;
    }
    if (this.states.get(this.id(key))?.version !== version) return false;
    this.writes++;
    this.states.set(this.id(key), { state, version: String(++this.counter) });
    return true;
  }
  /** Sets a state directly (another writer, or a test fixture). */
  put(key: MigrationKey, state: MigrationState): void {
    this.states.set(this.id(key), { state, version: String(++this.counter) });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Admission: the webhook denies deleting the source of a running migration.

/** The migration states known right now, by namespace and source workload (kind/name). */
export type MigrationStateLookup = (namespace: string, kind: string, name: string) => MigrationState | undefined;

/**
 * Builds the lookup the webhook injects: for a workload, the name of the MigrationPolicy for which it is the source of a
 * running migration, else undefined. A policy with no known state counts as running (Pending): deleting the source
 * before the migration started would lose it too.
 */
export function activeMigrationSourceLookup(
  migrations: readonly Pick<MigrationPolicy, 'name' | 'namespace' | 'source'>[],
  stateOf: MigrationStateLookup,
): (namespace: string, kind: string, name: string) => string | undefined {
  return (namespace, kind, name) => {
    for (const m of migrations) {
      if (m.namespace !== namespace || m.source.kind !== kind || m.source.name !== name) continue;
      const phase = stateOf(namespace, kind, name)?.phase ?? 'Pending';
      if (RUNNING_PHASES.has(phase)) return m.name;
    }
    return undefined;
  };
}
