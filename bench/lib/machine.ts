// The machine a bench ran on (cores, CPU model, Node version, load average), noted beside every figure.
import { cpus, loadavg, totalmem } from 'node:os';
import { availableParallelism } from 'node:os';
import { execFileSync } from 'node:child_process';

export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly memoryGiB: number;
  readonly loadAverage: readonly number[];
  readonly date: string;
  readonly commit?: string;
}

export function machineInfo(): MachineInfo {
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = undefined;
  }
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
    ...(commit ? { commit } : {}),
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cores} cores (${m.cpuModel}), Node ${m.node}, ${m.memoryGiB} GiB, load average ${m.loadAverage.join(' ')}${m.commit ? `, commit ${m.commit}` : ''}`;
}

/** Waits (bounded) until the 1-minute load average drops below `below`; returns the load average seen. */
export async function waitForQuiet(below: number, maxWaitMs: number, log: (s: string) => void): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let l = loadavg()[0]!;
  if (l >= below) log(`load average ${l.toFixed(2)} ≥ ${below}: waiting up to ${Math.round(maxWaitMs / 1000)} s for a quieter machine`);
  while (l >= below && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5000));
    l = loadavg()[0]!;
  }
  return l;
}
