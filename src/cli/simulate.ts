// `governor simulate`: replays a load trace through a policy and the HPA controller's rules; table, chart, JSON, SVG.
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { parseDuration, formatDuration } from '../common/duration.js';
import { simulationChartData, svgChart, terminalChart } from './chart.js';
import { formatSeconds } from '../common/duration.js';
import type { HpaControllerOptions } from '../scaling/hpa-replay.js';
import { parseTrace, simulateTrace, type Interpolation, type SimulationResult, type SimulationStep } from '../scaling/simulate.js';
import { loadScalingPolicies, selectPolicy } from './select-policy.js';
import { formatData, outputOption } from './conventions.js';
import { hpaFlagOptions, hpaSettings, wholeNumber, type HpaFlags } from './hpa-flags.js';

export interface SimulateArgs extends HpaFlags {
  readonly policy: string;
  readonly load: string;
  readonly name?: string;
  readonly output?: 'table' | 'json' | 'yaml';
  readonly svg?: string;
  readonly syncPeriod?: string;
  readonly tolerance?: number;
  readonly downscaleStabilization?: string;
  /** false: the cluster ignores behavior.*.tolerance (HPAConfigurableTolerance off). */
  readonly toleranceGate?: boolean;
  readonly interpolate?: Interpolation;
  readonly initialReplicas?: number;
  readonly sourceReplicas?: number;
  readonly hpaOffset?: string;
  readonly rows?: number;
  readonly width?: number;
  readonly chart?: boolean;
  /** undefined: automatic (long traces, on a TTY or when very long). */
  readonly progress?: boolean;
}

export interface SimulateIO {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Above this many syncs a progress bar shows on a TTY; above VERY_LONG it shows on any stderr. */
export const LONG_TRACE_STEPS = 20_000;
export const VERY_LONG_TRACE_STEPS = 200_000;

export class SimulateUsageError extends Error {
  override name = 'SimulateUsageError';
}

function controllerOptions(a: SimulateArgs): HpaControllerOptions {
  return {
    ...(a.syncPeriod ? { syncPeriodMs: parseDuration(a.syncPeriod) } : {}),
    ...(a.tolerance !== undefined ? { tolerance: a.tolerance } : {}),
    ...(a.downscaleStabilization ? { downscaleStabilizationMs: parseDuration(a.downscaleStabilization) } : {}),
    ...(a.toleranceGate === false ? { configurableTolerance: false } : {}),
  };
}

/** Runs the simulation; returns the exit code (0 ok, 1 bad input). */
export async function runSimulate(a: SimulateArgs, io: SimulateIO): Promise<number> {
  const set = await loadScalingPolicies([a.policy]);
  const policy = selectPolicy(set, a.name);
  let traceText: string;
  try {
    traceText = await readFile(a.load, 'utf8');
  } catch (e) {
    throw new SimulateUsageError(`cannot read the load trace ${a.load}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const trace = parseTrace(traceText, a.load);
  const controller = controllerOptions(a);
  const migration = policy.kind === 'MigrationPolicy';
  let bar: cliProgress.SingleBar | undefined;
  let barTotal = 0;
  const wantBar = (total: number) => (a.progress !== undefined ? a.progress : total >= VERY_LONG_TRACE_STEPS || (total >= LONG_TRACE_STEPS && !!io.stderr.isTTY));
  const result = simulateTrace({
    policy,
    scalingPolicies: set.scaling,
    trace,
    options: {
      controller,
      hpa: hpaSettings(a),
      initialReplicas: {
        ...(a.initialReplicas !== undefined ? { target: a.initialReplicas } : {}),
        ...(a.sourceReplicas !== undefined ? { source: a.sourceReplicas } : {}),
      },
      ...(a.interpolate ? { interpolate: a.interpolate } : {}),
      ...(a.hpaOffset ? { hpaOffsetSeconds: parseDuration(a.hpaOffset) / 1000 } : {}),
      progressEvery: 5_000,
      onProgress: (done, total) => {
        if (!bar && done < total && wantBar(total)) {
          bar = new cliProgress.SingleBar(
            { stream: io.stderr as NodeJS.WriteStream, noTTYOutput: !io.stderr.isTTY, notTTYSchedule: 2000, format: 'simulating [{bar}] {percentage}% | {value}/{total} syncs', hideCursor: false },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, 0);
          barTotal = total;
        }
        bar?.update(done);
      },
    },
  });
  if (bar) {
    bar.update(barTotal);
    bar.stop();
  }

  if (a.output === 'json') {
    for (const s of result.steps) io.stdout.write(`${JSON.stringify(jsonRecord(s))}\n`);
  } else if (a.output === 'yaml') {
    io.stdout.write(formatData('yaml', result.steps.map(jsonRecord)));
  } else {
    io.stdout.write(header(result, controller));
    io.stdout.write(table(result, a.rows ?? 40));
    if (a.chart !== false) {
      const width = Math.max(20, Math.min(120, (a.width ?? io.stdout.columns ?? 90) - 12));
      io.stdout.write(`\n${terminalChart(simulationChartData(result), { width, color: !!io.stdout.isTTY })}`);
    }
    io.stdout.write(`\n${summary(result, migration)}`);
  }
  if (a.svg) {
    await writeFile(a.svg, svgChart(simulationChartData(result)));
    io.stderr.write(`wrote ${a.svg}\n`);
  }
  return 0;
}

/** One JSON record per step: time, load, and per workload the replicas decided and reached. */
export function jsonRecord(s: SimulationStep): Record<string, unknown> {
  return {
    t: s.t,
    load: s.load,
    ...(s.regime ? { regime: s.regime } : {}),
    ...(s.phase ? { phase: s.phase } : {}),
    ...(s.capacity !== undefined ? { capacity: s.capacity } : {}),
    ...(s.action ? { action: s.action } : {}),
    workloads: Object.fromEntries(s.workloads.map((w) => [w.role, { name: w.name, decided: w.decided ?? null, reached: w.reached, hpa: w.hpa }])),
  };
}

function header(r: SimulationResult, c: HpaControllerOptions): string {
  const lines = [`${r.policy.kind} ${r.policy.namespace}/${r.policy.name}: ${r.summary.steps} HPA syncs over ${formatDuration(r.summary.durationSeconds * 1000)}`];
  lines.push(
    `controller: sync ${formatDuration(c.syncPeriodMs ?? 15_000)}, tolerance ${c.tolerance ?? 0.1}, downscale window ${formatDuration(c.downscaleStabilizationMs ?? 300_000)}, behavior tolerance ${c.configurableTolerance === false ? 'ignored' : 'honoured'}`,
  );
  for (const w of r.workloads) {
    const b = w.hpa.behavior;
    const tol = b?.scaleUp?.tolerance ?? b?.scaleDown?.tolerance;
    lines.push(`HPA ${w.role} ${w.name}: min ${w.hpa.minReplicas ?? 1}, max ${w.hpa.maxReplicas}, windows up ${b?.scaleUp?.stabilizationWindowSeconds ?? 0}s / down ${b?.scaleDown?.stabilizationWindowSeconds ?? 'default'}s, tolerance ${tol ?? 'controller'}`);
  }
  return lines.join('\n') + '\n\n';
}

/** Rows where something changed (first and last always), at most `rows` of them. */
function table(r: SimulationResult, rows: number): string {
  const changed: SimulationStep[] = [];
  let prev: string | undefined;
  r.steps.forEach((s, i) => {
    const key = JSON.stringify([s.phase, s.capacity, s.action, s.workloads.map((w) => [w.decided, w.reached])]);
    if (key !== prev || i === r.steps.length - 1) changed.push(s);
    prev = key;
  });
  const shown = changed.length > rows ? [...changed.slice(0, rows - 1), changed.at(-1)!] : changed;
  const migration = r.workloads.length > 1;
  const head = ['time', 'load', ...(migration ? ['phase', 'capacity'] : ['regime']), ...r.workloads.flatMap((w) => [`${w.role} decided`, `${w.role} reached`])];
  const body = shown.map((s) => [
    formatSeconds(s.t),
    String(Math.round(s.load * 100) / 100),
    ...(migration ? [`${s.phase ?? ''}${s.action ? ` (${s.action})` : ''}`, String(s.capacity ?? '')] : [s.regime ?? '']),
    ...s.workloads.flatMap((w) => [w.decided === undefined ? '-' : String(w.decided), String(w.reached)]),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i < (migration ? 4 : 3) && i !== 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmt)];
  if (changed.length > shown.length) out.push(`(${changed.length - shown.length} more changes not shown; --rows N or --output json for every step)`);
  else out.push(`(${shown.length} rows: the steps where a value changed)`);
  return out.join('\n') + '\n';
}

function summary(r: SimulationResult, migration: boolean): string {
  const s = r.summary;
  const lines = r.workloads.map((w) => `${w.role} ${w.name}: ${s.rescales[w.name] ?? 0} rescales, max ${s.maxReached[w.name] ?? 0} replicas, ${s.lagSteps[w.name] ?? 0} syncs where reached != decided`);
  if (migration) {
    lines.push(`capacity: ${s.capacityShortfallSteps ?? 0} syncs where reached source + target < capacity`);
    if (s.completedAt !== undefined) lines.push(`completed at ${formatSeconds(s.completedAt)}`);
    if (s.rolledBackAt !== undefined) lines.push(`rolled back at ${formatSeconds(s.rolledBackAt)}`);
    if (s.completedAt === undefined && s.rolledBackAt === undefined) lines.push(`phase at the end: ${r.steps.at(-1)?.phase}`);
  }
  return lines.join('\n') + '\n';
}

const posInt = (flag: string) => wholeNumber(flag, 0);
const nonNeg = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new SimulateUsageError(`${flag} "${v}" must be a number >= 0`);
  return n;
};

export function registerSimulate(program: Command): void {
  const command = program
    .command('simulate')
    .description('replay a load trace through a ScalingPolicy or MigrationPolicy and the HPA controller rules')
    .requiredOption('--policy <file>', 'policy file (YAML or JSON); may also hold the ScalingPolicy a migration takes its capacity from')
    .requiredOption('--load <trace>', 'load trace: CSV with header t,load (t in seconds) or a JSON array of {t, load}; optional action column/field (pause, resume, rollback)')
    .option('--name <name>', 'policy to simulate when the file holds several ([namespace/]name)')
    .addOption(outputOption(['table', 'json', 'yaml'], 'table', 'table with a chart; json: one record per HPA sync and line; yaml: a list of the same records'))
    .option('--svg <file>', 'write the chart as SVG')
    .option('--sync-period <duration>', 'HPA controller sync period (--horizontal-pod-autoscaler-sync-period)', '15s')
    .option('--tolerance <ratio>', 'controller tolerance (--horizontal-pod-autoscaler-tolerance)', nonNeg('--tolerance'), 0.1)
    .option('--downscale-stabilization <duration>', 'controller default scale-down window (--horizontal-pod-autoscaler-downscale-stabilization)', '5m')
    .option('--no-tolerance-gate', 'the cluster ignores behavior.*.tolerance (HPAConfigurableTolerance off, Kubernetes < 1.35)');
  hpaFlagOptions(command, { maxField: 'HPA maxReplicas', kubeVersion: false })
    .option('--interpolate <mode>', 'load between trace points: step (hold the last sample) or linear', 'step')
    .option('--initial-replicas <n>', 'replicas of the (target) workload before the first sync', posInt('--initial-replicas'))
    .option('--source-replicas <n>', "migration: the source's replicas at the start (default spec.base)", posInt('--source-replicas'))
    .option('--hpa-offset <duration>', "delay of the HPA's first sync after t=0 (its phase against the policy interval grid)")
    .option('--rows <n>', 'table rows to print at most', posInt('--rows'), 40)
    .option('--width <columns>', 'chart width (default: the terminal width)', posInt('--width'))
    .option('--no-chart', 'print the table without the terminal chart')
    .option('--progress', 'always show a progress bar on stderr')
    .option('--no-progress', 'never show a progress bar')
    .action(async (o, cmd: Command) => {
      if (o.interpolate !== 'step' && o.interpolate !== 'linear') throw new SimulateUsageError(`--interpolate must be step or linear, not "${o.interpolate}"`);
      // --no-progress makes commander default progress to true; only a flag given on the command line decides.
      const progress = cmd.getOptionValueSource('progress') === 'cli' ? (o.progress as boolean) : undefined;
      process.exitCode = await runSimulate({ ...o, progress }, { stdout: process.stdout, stderr: process.stderr });
    });
}
