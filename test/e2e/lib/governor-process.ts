// `governor` as the e2e suite runs it: one-shot CLI calls (certs, hpa, migrate) and `governor serve` as a host process
// on loopback ports, logging to a file, stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { REPO_ROOT, run, type RunResult } from '../harness/cluster.js';
import { waitFor } from './wait.js';

const CLI = ['--import', 'tsx', 'src/cli.ts'];

/** Runs `governor <args>` to completion (never rejects on a non-zero exit). */
/** `--kube-version` of `governor hpa` and `governor keda` for the cluster under test (its gitVersion; none: the default). */
export const kubeVersionArgs = (gitVersion: string): string[] => (gitVersion ? [`--kube-version=${gitVersion}`] : []);

export function governorCli(args: string[], o: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(process.execPath, [...CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...o.env },
    timeoutMs: o.timeoutMs ?? 60_000,
    ...(o.input !== undefined ? { input: o.input } : {}),
  });
}

/** A host process the e2e suite runs, logging to a file, stopped by pid. */
export interface LoggedProcess {
  readonly pid: number;
  readonly logFile: string;
  /** The last `lines` lines of the process's output. */
  logTail(lines?: number): string;
  /** Whole log, for assertions on what the process logged. */
  log(): string;
  exited(): boolean;
  /** SIGTERM, SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** `governor serve` as a host process (pino JSON logs). */
export type GovernorProcess = LoggedProcess;

const live = new Set<ChildProcess>();
let hooked = false;
function killOnExit(): void {
  if (hooked) return;
  hooked = true;
  // A crashed or interrupted test file must not leave a server listening (a webhook pointing at nothing, KEDA scaling
  // things, ports held).
  process.on('exit', () => {
    for (const c of live) if (c.pid) process.kill(c.pid, 'SIGKILL');
  });
}

/** Starts `bin args` with its output appended to `logFile`; resolves once the process runs (readiness is the caller's). */
export function startLoggedProcess(bin: string, args: readonly string[], logFile: string, o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): LoggedProcess {
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, args, { cwd: o.cwd ?? REPO_ROOT, env: o.env ?? process.env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  killOnExit();
  live.add(child);
  let done = false;
  const exit = new Promise<void>((r) => {
    const finish = () => {
      done = true;
      live.delete(child);
      r();
    };
    child.on('exit', finish);
    child.on('error', finish);
  });
  const read = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    pid: child.pid ?? -1,
    logFile,
    log: read,
    logTail: (lines = 40) => read().split('\n').slice(-lines - 1).join('\n'),
    exited: () => done,
    async stop(graceMs = 5000) {
      if (done || !child.pid) return;
      process.kill(child.pid, 'SIGTERM');
      const t = setTimeout(() => {
        if (!done && child.pid) process.kill(child.pid, 'SIGKILL');
      }, graceMs);
      await exit;
      clearTimeout(t);
    },
  };
}

/** Starts `governor serve <args>`; resolves once the process runs (readiness is the caller's wait). */
export function startGovernorServe(args: string[], logFile: string, env: Record<string, string> = {}): GovernorProcess {
  return startLoggedProcess(process.execPath, [...CLI, 'serve', ...args], logFile, { env: { ...process.env, ...env } });
}

/** GET http://127.0.0.1:<port><path> → status (0 when nothing answers). */
export function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Waits until the metrics port answers /readyz (the servers are listening); fails at once if the process dies. */
export async function waitServing(p: GovernorProcess, metricsPort: number, timeoutMs = 60_000): Promise<void> {
  const outcome = await waitFor(
    `governor serve (pid ${p.pid}) to answer on 127.0.0.1:${metricsPort}/readyz`,
    async () => {
      if (p.exited()) return { done: true, value: 'exited' };
      const status = await httpStatus(metricsPort, '/readyz');
      return { done: status === 200, value: 'ready', seen: status };
    },
    { timeoutMs, intervalMs: 300 },
  ).catch((e) => {
    throw new Error(`${(e as Error).message}\n--- governor log ---\n${p.logTail(30)}`);
  });
  if (outcome === 'exited') throw new Error(`governor serve exited before serving:\n${p.logTail(30)}`);
}
