// Load generation for the benches, always in a separate process: an open-loop fixed-rate generator (raw TLS, keep-alive,
// latency from each request's scheduled send time, µs resolution) and autocannon for saturation throughput.
//
// Why not autocannon for the fixed rates: its rate limit sends each second's quota in a burst and then idles, and its
// latency histogram has 1 ms resolution; both hide sub-millisecond differences the 2 ms target is about.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Target {
  readonly host: string;
  readonly port: number;
  readonly ca?: string;
  /** Client certificate (the adapter's front-proxy identity). */
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
}

export interface RequestSpec {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface FixedRateJob {
  readonly kind: 'fixed';
  readonly target: Target;
  /** Sent in turn, round robin. */
  readonly requests: readonly RequestSpec[];
  readonly connections: number;
  readonly rate: number;
  readonly durationS: number;
  readonly warmupS: number;
  /** Also report latency per second of the run (by scheduled send time): the soak's timeline. */
  readonly perSecond?: boolean;
}

/** Latency of the requests scheduled in one second of a fixed-rate run (ms; `t`: seconds from the start). */
export interface SecondLatency {
  readonly t: number;
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Requests that failed or got no 2xx answer. */
  readonly bad: number;
  /**
   * Milliseconds the generator's thread waited for a core in that second (Linux schedstat, /proc/self/schedstat): a
   * slow second with a long wait here was the machine delaying the client, not the server answering late.
   */
  readonly waitMs?: number;
}

export interface SaturationJob {
  readonly kind: 'saturate';
  readonly target: Target;
  readonly requests: readonly RequestSpec[];
  readonly connections: number;
  readonly durationS: number;
  readonly warmupS: number;
}

export interface LatencyResult {
  readonly kind: 'fixed';
  readonly rate: number;
  readonly connections: number;
  /** Requests in the measured window (after warm-up). */
  readonly measured: number;
  readonly achievedRps: number;
  /** Milliseconds from the scheduled send time to the end of the response (coordinated omission corrected). */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly non2xx: number;
  readonly errors: number;
  /** When and why the first few requests failed (seconds from the start). */
  readonly errorSamples: readonly string[];
  /** The generator gave up because the backlog grew beyond two seconds of requests (the server cannot keep up). */
  readonly overloaded: boolean;
  /** With `perSecond`: one entry per second of the measured window. */
  readonly seconds?: readonly SecondLatency[];
}

export interface SaturationResult {
  readonly kind: 'saturate';
  readonly connections: number;
  readonly rps: number;
  readonly requests: number;
  /** autocannon's latency percentiles (1 ms resolution). */
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

const CHILD = fileURLToPath(new URL('./load-child.ts', import.meta.url));

/**
 * Nanoseconds this process's main thread has spent runnable but waiting for a core (the second field of
 * /proc/self/schedstat); NaN where the kernel does not report it.
 */
export function runQueueWaitNs(): number {
  try {
    return Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]);
  } catch {
    return Number.NaN;
  }
}

function runChild<T>(job: FixedRateJob | SaturationJob): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const limit = setTimeout(() => child.kill('SIGKILL'), (job.durationS + job.warmupS + 60) * 1000);
    let result: T | undefined;
    child.once('message', (m) => (result = m as T));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(limit);
      if (result !== undefined) resolve(result);
      else reject(new Error(`load generator exited with ${code} and no result`));
    });
    child.send(job);
  });
}

export const fixedRate = (job: Omit<FixedRateJob, 'kind'>) => runChild<LatencyResult>({ kind: 'fixed', ...job });
export const saturate = (job: Omit<SaturationJob, 'kind'>) => runChild<SaturationResult>({ kind: 'saturate', ...job });

/** The HTTP/1.1 text of a request (keep-alive, Content-Length). */
export function serialize(r: RequestSpec, host: string): string {
  const body = r.body ?? '';
  const headers: Record<string, string> = { host, connection: 'keep-alive', ...(r.headers ?? {}) };
  if (r.method === 'POST') headers['content-length'] = String(Buffer.byteLength(body));
  return `${r.method} ${r.path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n${body}`;
}
