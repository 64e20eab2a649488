// Offline replay of a load trace: the same planner, formula and migration model as the adapter, fed to the HPA
// controller's own rules (hpa-replay), one step per HPA sync. Pure: trace text in, steps out.
import type { MigrationPolicy, ScalingPolicy } from '../policy/types.js';
import type { WorkloadRole } from './contract.js';
import { scalingPolicyHpa, migrationPolicyHpas, type HpaManifestOptions } from './hpa-manifest.js';
import { HpaReplay, type HpaControllerOptions, type HpaReason, type HpaSpec } from './hpa-replay.js';
import { applyMigrationAction, publishedReplicas, startMigration, stepMigration, type MigrationAction, type MigrationPhase, type MigrationState } from './migration.js';
import { plan, type Decision } from './planner.js';
import type { Regime } from './formula.js';

// --- traces ------------------------------------------------------------------------------------------------------

export interface TracePoint {
  /** Seconds from the start of the trace. */
  readonly t: number;
  readonly load: number;
  /** Operator action at this time (migrations only): pause, resume or rollback. */
  readonly action?: MigrationAction;
}

/** A trace that cannot be used; `line` is 1-based (CSV) or the array index + 1 (JSON). */
export class TraceError extends Error {
  override name = 'TraceError';
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(line !== undefined ? `line ${line}: ${message}` : message);
  }
}

const ACTIONS: ReadonlySet<string> = new Set(['pause', 'resume', 'rollback']);

function checkPoint(t: unknown, load: unknown, action: unknown, line: number, prev: TracePoint | undefined): TracePoint {
  const tn = typeof t === 'string' && t.trim() !== '' ? Number(t) : t;
  const ln = typeof load === 'string' && load.trim() !== '' ? Number(load) : load;
  if (typeof tn !== 'number' || !Number.isFinite(tn)) throw new TraceError(`t ${JSON.stringify(t)} is not a number of seconds`, line);
  if (tn < 0) throw new TraceError(`t ${tn} is negative`, line);
  if (typeof ln !== 'number' || !Number.isFinite(ln)) throw new TraceError(`load ${JSON.stringify(load)} is not a number`, line);
  if (ln < 0) throw new TraceError(`load ${ln} is negative`, line);
  if (prev && tn <= prev.t) throw new TraceError(`t ${tn} does not increase (previous ${prev.t}); sort the trace by t`, line);
  if (action !== undefined && action !== '' && action !== null) {
    if (typeof action !== 'string' || !ACTIONS.has(action)) throw new TraceError(`action ${JSON.stringify(action)} must be pause, resume or rollback`, line);
    return { t: tn, load: ln, action: action as MigrationAction };
  }
  return { t: tn, load: ln };
}

/** CSV with a header naming t and load (and optionally action); blank lines and # comments are skipped. */
export function parseTraceCsv(text: string): TracePoint[] {
  const lines = text.split(/\r?\n/);
  let header: string[] | undefined;
  let headerLine = 0;
  const points: TracePoint[] = [];
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const cells = line.split(',').map((c) => c.trim());
    if (!header) {
      header = cells.map((c) => c.toLowerCase());
      headerLine = i + 1;
      if (!header.includes('t') || !header.includes('load')) {
        throw new TraceError(`the header must name the columns t and load (got "${line}")`, i + 1);
      }
      return;
    }
    if (cells.length !== header.length) throw new TraceError(`expected ${header.length} columns (${header.join(',')}), got ${cells.length}`, i + 1);
    const get = (name: string) => (header!.includes(name) ? cells[header!.indexOf(name)] : undefined);
    points.push(checkPoint(get('t'), get('load'), get('action'), i + 1, points.at(-1)));
  });
  if (!header) throw new TraceError('the trace is empty (expected a header "t,load" and rows)');
  if (!points.length) throw new TraceError('the trace has a header but no rows', headerLine);
  return points;
}

/** A JSON array of {t, load[, action]}. */
export function parseTraceJson(text: string): TracePoint[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new TraceError(`not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new TraceError('a JSON trace must be an array of {"t": seconds, "load": number}');
  if (!data.length) throw new TraceError('the trace is empty');
  const points: TracePoint[] = [];
  data.forEach((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new TraceError('each element must be an object {"t", "load"}', i + 1);
    const o = item as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 't' && k !== 'load' && k !== 'action') throw new TraceError(`unknown field "${k}" (expected t, load, action)`, i + 1);
    if (!('t' in o)) throw new TraceError('t is missing', i + 1);
    if (!('load' in o)) throw new TraceError('load is missing', i + 1);
    points.push(checkPoint(o.t, o.load, o.action, i + 1, points.at(-1)));
  });
  return points;
}

/** Parses by content: a leading [ is JSON, anything else CSV. `name` (a file name) breaks ties by extension. */
export function parseTrace(text: string, name = ''): TracePoint[] {
  const lower = name.toLowerCase();
  if (lower.endsWith('.json') || (!lower.endsWith('.csv') && text.trimStart().startsWith('['))) return parseTraceJson(text);
  return parseTraceCsv(text);
}

export type Interpolation = 'step' | 'linear';

/** The load at t seconds: the last sample at or before t ('step', as a source sampled at those instants), or linear. */
export function loadAt(trace: readonly TracePoint[], t: number, mode: Interpolation = 'step', hint = { i: 0 }): number {
  // Traces are replayed in time order: resume the search where the last call stopped.
  let i = hint.i < trace.length && trace[hint.i]!.t <= t ? hint.i : 0;
  while (i + 1 < trace.length && trace[i + 1]!.t <= t) i++;
  hint.i = i;
  const a = trace[i]!;
  if (t < a.t) return a.load;
  if (mode === 'linear' && i + 1 < trace.length) {
    const b = trace[i + 1]!;
    return a.load + ((t - a.t) / (b.t - a.t)) * (b.load - a.load);
  }
  return a.load;
}

// --- simulation -------------------------------------------------------------------------------------------------

export interface WorkloadStep {
  readonly name: string;
  readonly role: WorkloadRole;
  /** The value governor publishes (undefined: nothing to publish, the HPA freezes). */
  readonly decided: number | undefined;
  /** The workload's replicas after the HPA's sync. */
  readonly reached: number;
  /** Why the HPA ended there. */
  readonly hpa: HpaReason;
}

export interface SimulationStep {
  /** Seconds from the start of the trace. */
  readonly t: number;
  readonly load: number;
  readonly regime?: Regime;
  /** Migration only. */
  readonly phase?: MigrationPhase;
  readonly capacity?: number;
  readonly action?: MigrationAction;
  readonly workloads: readonly WorkloadStep[];
}

export interface SimulationSummary {
  readonly steps: number;
  readonly durationSeconds: number;
  /** Rescales per workload. */
  readonly rescales: Readonly<Record<string, number>>;
  readonly maxReached: Readonly<Record<string, number>>;
  /** Steps where the published value and the reached value differ (HPA lag, tolerance, limits). */
  readonly lagSteps: Readonly<Record<string, number>>;
  /** Migration only: steps where reached source + target < capacity. */
  readonly capacityShortfallSteps?: number;
  /** Migration only: when the phase became Completed / RolledBack (seconds), if it did. */
  readonly completedAt?: number;
  readonly rolledBackAt?: number;
}

export interface SimulationResult {
  readonly policy: {
    readonly kind: 'ScalingPolicy' | 'MigrationPolicy';
    readonly name: string;
    readonly namespace: string;
    readonly thresholds: { readonly low: number; readonly high: number };
  };
  readonly workloads: readonly { readonly name: string; readonly role: WorkloadRole; readonly hpa: HpaSpec }[];
  readonly steps: readonly SimulationStep[];
  readonly summary: SimulationSummary;
}

export interface SimulationOptions {
  /** kube-controller-manager settings (sync period, tolerance, downscale window, tolerance gate). */
  readonly controller?: HpaControllerOptions;
  /** Options for the generated HPAs (tolerance, max replicas of a migration's HPAs). */
  readonly hpa?: HpaManifestOptions;
  /** Override an HPA spec per role instead of the generated one. */
  readonly hpaSpecs?: Partial<Record<WorkloadRole, HpaSpec>>;
  /** Replicas before the first sync, per role. Defaults: a ScalingPolicy's base; a migration's R′(0) and the target's HPA minimum. */
  readonly initialReplicas?: Partial<Record<WorkloadRole, number>>;
  readonly interpolate?: Interpolation;
  /** Seconds between the trace's t=0 and the first HPA sync (the HPA's phase against the policy's interval grid). */
  readonly hpaOffsetSeconds?: number;
  /** Simulate until this many seconds (default: the trace's last t). */
  readonly untilSeconds?: number;
  /** Wall-clock origin of t=0 in ms (the policy interval grid is floor(ms / interval)); default 0. */
  readonly epochMs?: number;
  /** Called every `progressEvery` steps and at the end. */
  readonly onProgress?: (done: number, total: number) => void;
  readonly progressEvery?: number;
}

export class SimulationError extends Error {
  override name = 'SimulationError';
}

export const MAX_SIMULATION_STEPS = 1_000_001;

export interface SimulationInput {
  readonly policy: ScalingPolicy | MigrationPolicy;
  /** ScalingPolicies that a MigrationPolicy's capacity may name. */
  readonly scalingPolicies?: readonly ScalingPolicy[];
  readonly trace: readonly TracePoint[];
  readonly options?: SimulationOptions;
}

/**
 * Replays the trace: at every HPA sync (t0 + k · syncPeriod) governor decides (at most once per policy interval, as the
 * adapter does) and each HPA syncs on the published value. The e2e suite feeds the same trace to a real control plane
 * and compares the reached replica sequences.
 */
export function simulateTrace(input: SimulationInput): SimulationResult {
  const { policy, trace } = input;
  const o = input.options ?? {};
  if (!trace.length) throw new SimulationError('the trace is empty');
  const syncMs = o.controller?.syncPeriodMs ?? 15_000;
  if (!(syncMs > 0)) throw new SimulationError('the sync period must be > 0');
  const epoch = o.epochMs ?? 0;
  const startS = trace[0]!.t + (o.hpaOffsetSeconds ?? 0);
  const endS = o.untilSeconds ?? trace.at(-1)!.t;
  const total = endS >= startS ? Math.floor(((endS - startS) * 1000) / syncMs) + 1 : 0;
  if (total === 0) throw new SimulationError(`nothing to simulate: the trace ends (${endS}s) before the first sync (${startS}s)`);
  if (total > MAX_SIMULATION_STEPS) throw new SimulationError(`the trace spans ${total} syncs; at most ${MAX_SIMULATION_STEPS} are simulated (raise --sync-period or shorten the trace)`);
  const every = o.progressEvery ?? 10_000;
  const hint = { i: 0 };
  const actionsAt = trace.filter((p) => p.action);
  let nextAction = 0;

  const sim = policy.kind === 'ScalingPolicy' ? scalingSimulator(policy, o) : migrationSimulator(policy, input.scalingPolicies ?? [], o);
  const steps: SimulationStep[] = [];
  for (let k = 0; k < total; k++) {
    const t = startS + (k * syncMs) / 1000;
    const load = loadAt(trace, t, o.interpolate ?? 'step', hint);
    let action: MigrationAction | undefined;
    while (nextAction < actionsAt.length && actionsAt[nextAction]!.t <= t) action = actionsAt[nextAction++]!.action;
    steps.push(sim.step(epoch + Math.round(t * 1000), t, load, action));
    if (o.onProgress && ((k + 1) % every === 0 || k + 1 === total)) o.onProgress(k + 1, total);
  }
  return {
    policy: { kind: policy.kind, name: policy.name, namespace: policy.namespace, thresholds: policy.thresholds },
    workloads: sim.workloads,
    steps,
    summary: summarize(steps, syncMs),
  };
}

interface Simulator {
  readonly workloads: SimulationResult['workloads'];
  step(nowMs: number, t: number, load: number, action: MigrationAction | undefined): SimulationStep;
}

function scalingSimulator(p: ScalingPolicy, o: SimulationOptions): Simulator {
  const gen = scalingPolicyHpa(p, o.hpa);
  const spec = o.hpaSpecs?.target ?? gen.spec;
  const hpa = new HpaReplay(spec, o.initialReplicas?.target ?? Math.max(1, p.replicas.base), o.controller);
  let decision: Decision | undefined;
  return {
    workloads: [{ name: p.target.name, role: 'target', hpa: spec }],
    step(nowMs, t, load) {
      // The adapter's path: one load sample per interval, R_prev from the live count (the HPA's current replicas).
      decision = plan(p, { nowMs, sample: { ok: true, value: load, atMs: nowMs }, liveReplicas: hpa.replicas }, decision);
      const r = hpa.sync(nowMs, decision.replicas);
      return {
        t,
        load,
        ...(decision.regime ? { regime: decision.regime } : {}),
        workloads: [{ name: p.target.name, role: 'target', decided: decision.replicas, reached: r.replicas, hpa: r.reason }],
      };
    },
  };
}

function migrationSimulator(p: MigrationPolicy, scaling: readonly ScalingPolicy[], o: SimulationOptions): Simulator {
  let capacityPolicy: ScalingPolicy | undefined;
  if (p.capacity && 'scalingPolicy' in p.capacity) {
    const name = p.capacity.scalingPolicy;
    capacityPolicy = scaling.find((s) => s.name === name && s.namespace === p.namespace);
    if (!capacityPolicy) throw new SimulationError(`capacity names ScalingPolicy "${name}", which is not in the policy files given`);
  }
  const [genSource, genTarget] = migrationPolicyHpas(p, { ...o.hpa, ...(capacityPolicy ? { capacityPolicy } : {}) });
  const sSpec = o.hpaSpecs?.source ?? genSource!.spec;
  const tSpec = o.hpaSpecs?.target ?? genTarget!.spec;
  const sourceStart = o.initialReplicas?.source ?? p.base;
  if (sourceStart === undefined) throw new SimulationError('spec.base is not set: give the source replicas at the start (--source-replicas)');
  const source = new HpaReplay(sSpec, sourceStart, o.controller);
  const target = new HpaReplay(tSpec, o.initialReplicas?.target ?? Math.max(1, tSpec.minReplicas ?? 1), o.controller);
  let capDecision: Decision | undefined;
  let state: MigrationState | undefined;
  const params = p.base === undefined ? { ...p, base: sourceStart } : p;
  return {
    workloads: [
      { name: p.source.name, role: 'source', hpa: sSpec },
      { name: p.target.name, role: 'target', hpa: tSpec },
    ],
    step(nowMs, t, load, action) {
      let capacity: number | undefined;
      if (capacityPolicy) {
        capDecision = plan(capacityPolicy, { nowMs, sample: { ok: true, value: load, atMs: nowMs } }, capDecision);
        capacity = capDecision.replicas;
      } else if (p.capacity && 'replicas' in p.capacity) capacity = p.capacity.replicas;
      if (state && action) {
        const a = applyMigrationAction(state, action);
        if (a.ok) state = a.state;
      }
      let regime: Regime | undefined;
      if (!state) {
        state = startMigration(params, { nowMs, liveSourceReplicas: source.replicas, ...(capacity !== undefined ? { capacity } : {}) });
      } else {
        const r = stepMigration(params, state, { nowMs, load, ...(capacity !== undefined ? { capacity } : {}) });
        state = r.state;
        regime = r.regime;
      }
      const pub = publishedReplicas(params, state);
      const rs = source.sync(nowMs, pub.source);
      const rt = target.sync(nowMs, pub.target);
      return {
        t,
        load,
        ...(regime ? { regime } : {}),
        phase: state.phase,
        capacity: pub.capacity,
        ...(action ? { action } : {}),
        workloads: [
          { name: p.source.name, role: 'source', decided: pub.source, reached: rs.replicas, hpa: rs.reason },
          { name: p.target.name, role: 'target', decided: pub.target, reached: rt.replicas, hpa: rt.reason },
        ],
      };
    },
  };
}

function summarize(steps: readonly SimulationStep[], syncMs: number): SimulationSummary {
  const rescales: Record<string, number> = {};
  const maxReached: Record<string, number> = {};
  const lagSteps: Record<string, number> = {};
  const prev: Record<string, number> = {};
  let shortfall = 0;
  let completedAt: number | undefined;
  let rolledBackAt: number | undefined;
  for (const s of steps) {
    let sum = 0;
    for (const w of s.workloads) {
      if (prev[w.name] !== undefined && prev[w.name] !== w.reached) rescales[w.name] = (rescales[w.name] ?? 0) + 1;
      rescales[w.name] ??= 0;
      prev[w.name] = w.reached;
      maxReached[w.name] = Math.max(maxReached[w.name] ?? 0, w.reached);
      lagSteps[w.name] = (lagSteps[w.name] ?? 0) + (w.decided !== undefined && w.decided !== w.reached ? 1 : 0);
      sum += w.reached;
    }
    if (s.capacity !== undefined && sum < s.capacity) shortfall++;
    if (s.phase === 'Completed' && completedAt === undefined) completedAt = s.t;
    if (s.phase === 'RolledBack' && rolledBackAt === undefined) rolledBackAt = s.t;
  }
  const migration = steps.some((s) => s.phase !== undefined);
  return {
    steps: steps.length,
    durationSeconds: steps.length ? steps.at(-1)!.t - steps[0]!.t + syncMs / 1000 : 0,
    rescales,
    maxReached,
    lagSteps,
    ...(migration ? { capacityShortfallSteps: shortfall } : {}),
    ...(completedAt !== undefined ? { completedAt } : {}),
    ...(rolledBackAt !== undefined ? { rolledBackAt } : {}),
  };
}
