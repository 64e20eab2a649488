// Servers under test, each in its own process (forked from the bench), so the load generator, the server and the
// orchestrator never share a CPU queue or a heap. The child builds one variant, answers with its port, reports its
// RSS on request and stops on "stop".
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type WebhookVariant =
  /** node:https, JSON.parse the review, answer allowed: the runtime's ceiling (the baseline). */
  | 'bare'
  /** express with express.json() and res.json(): the obvious express app. */
  | 'express-json'
  /** the production express app with no fast path (its own body reader, plain writes). */
  | 'express'
  /** production: fast path for POST /mutate and /validate in front of the express app. */
  | 'fast'
  /** The same three HTTP layers with a review that only decodes the AdmissionReview and allows: the layer's own cost. */
  | 'express-json-allow'
  | 'express-allow'
  | 'fast-allow'
  /**
   * The denied workload (a Deployment without its owner label, one container asking for 8 CPUs): bare-deny parses
   * the review and answers a fixed denial (the baseline for it), fast-deny is production.
   */
  | 'bare-deny'
  | 'fast-deny'
  /**
   * Production's HTTP layer with the engine's work replaced by its answer: the first request of each route is reviewed
   * by production code, later ones are decoded and get that answer under their own uid. Between fast-allow and fast:
   * what the answer's bytes cost (the mutate answer carries the patch), apart from the review that computes them.
   */
  | 'fast-canned'
  | 'fast-canned-deny';

export type AdapterVariant =
  /** node:https with the front-proxy CA, checks the client certificate, answers a fixed ExternalMetricValueList. */
  | 'bare'
  /** governor serve's adapter with every route through express. */
  | 'express'
  /** production: the value route on the fast path. */
  | 'fast';

export interface WebhookServerSpec {
  readonly kind: 'webhook';
  readonly variant: WebhookVariant;
  readonly certFile: string;
  readonly keyFile: string;
  /** GovernancePolicies besides the samples, each for another namespace (none match the requests). */
  readonly extraPolicies?: number;
  /** Replaces the sample policies by this many non-matching ones plus `matching` copies of team-defaults. */
  readonly onlyGenerated?: { total: number; matching: number };
}

export interface AdapterServerSpec {
  readonly kind: 'adapter';
  readonly variant: AdapterVariant;
  readonly policyDir: string;
  readonly certDir: string;
  readonly frontProxyCaFile: string;
}

export type ServerSpec = WebhookServerSpec | AdapterServerSpec;

export interface Percentiles {
  readonly n: number;
  /** The mean, which a per-request CPU figure compares with (the tail included). */
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface ServerStats {
  readonly gc: Record<string, { n: number; ms: number; maxMs: number }>;
  readonly loopDelayMs: { p50: number; p99: number; max: number };
  readonly reviewUs?: { mutate: Percentiles; validate: Percentiles };
}

export interface RunningServer {
  readonly port: number;
  readonly pid: number;
  /** Milliseconds from fork to listening. */
  readonly startMs: number;
  rss(): Promise<number>;
  heapUsed(): Promise<number>;
  /** process.memoryUsage() after a full collection, and the size of each V8 heap space (bytes). */
  memory(): Promise<NodeJS.MemoryUsage & { spaces: Record<string, number> }>;
  /** Writes a V8 heap snapshot to `file`. */
  heapSnapshot(file: string): Promise<void>;
  /** Starts V8's sampling heap profiler (objects collected by minor GCs left out: what it reports survived at least one). */
  allocStart(): Promise<void>;
  /** Stops it and writes the profile (.heapprofile) to `file`. */
  allocStop(file: string): Promise<void>;
  /**
   * Webhook variants but bare: the server's production review functions on `bodies` (alternately /mutate and
   * /validate) in a tight loop in the server process, `rounds` times each after a warm-up: µs per review, by body.
   * `thrashKiB`: that much other memory touched before each review (the caches taken from it, as the HTTP layer does).
   */
  tightLoopUs(bodies: readonly string[], rounds: number, thrashKiB?: number): Promise<number[]>;
  /** Starts V8's CPU profiler in the server (200 µs sampling). */
  cpuProfileStart(): Promise<void>;
  /** Stops it and writes the profile (.cpuprofile) to `file`. */
  cpuProfileStop(file: string): Promise<void>;
  /** CPU time (user + system) the server process has used so far, in µs: CPU per request is the steadiest figure on a shared machine. */
  cpuMicros(): Promise<number>;
  /** The longest event-loop delay since the previous call (ms). */
  maxStallMs(): Promise<number>;
  /** GC pauses by kind, event-loop delay percentiles and (GOVERNOR_BENCH_TIMING=1) review times since the previous call. */
  stats(): Promise<ServerStats>;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let compiled: string | undefined;

/**
 * The server child as the image runs its code: compiled by tsc, then bundled by hack/bundle.mjs (no loader; tsx's
 * esbuild output adds a `__name` call to every function it creates and a loader hook, which cost the webhook about a
 * fifth of its CPU per request; the bundle is what the image starts, so fork-to-listening counts the same module
 * loading). Built once per bench run into a temporary directory (about 10 s); GOVERNOR_BENCH_TSX=1 runs the sources.
 */
function serverChild(): { file: string; execArgv: string[] } {
  if (process.env.GOVERNOR_BENCH_TSX === '1') return { file: join(ROOT, 'bench/lib/server-child.ts'), execArgv: ['--import', 'tsx'] };
  if (!compiled) {
    const out = join(mkdtempSync(join(tmpdir(), 'kg-bench-build-')), 'out');
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tsconfig.json'), '--outDir', out, '--noEmit', 'false', '--sourceMap', 'false'], { stdio: 'inherit' });
    for (const d of ['node_modules', 'policies']) symlinkSync(join(ROOT, d), join(out, d));
    copyFileSync(join(ROOT, 'package.json'), join(out, 'package.json')); // "type": "module"
    const tscOut = join(out, 'bench/lib/server-child.js');
    if (!existsSync(tscOut)) throw new Error(`tsc did not write ${tscOut}`);
    // At the same depth as tsc's file, so paths its modules resolve from import.meta.url (the sample policies) hold.
    execFileSync(process.execPath, [join(ROOT, 'hack/bundle.mjs'), tscOut, join(out, 'bench/bundle')], { stdio: 'inherit' });
    compiled = join(out, 'bench/bundle/server-child.js');
  }
  return { file: compiled, execArgv: [] };
}

export async function startServer(spec: ServerSpec, o: { cpuProfDir?: string; env?: NodeJS.ProcessEnv; execArgv?: readonly string[] } = {}): Promise<RunningServer> {
  const child0 = serverChild();
  const t0 = performance.now();
  const execArgv = [...child0.execArgv, '--expose-gc', ...(o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : []), ...(o.execArgv ?? []), ...(process.env.KG_BENCH_EXEC_ARGV?.split(' ').filter(Boolean) ?? [])];
  const child: ChildProcess = fork(child0.file, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...o.env } });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: any) => (m?.port ? resolve(m.port) : reject(new Error(`server child: ${JSON.stringify(m)}`))));
    child.once('exit', (code) => reject(new Error(`server child exited with ${code} before listening`)));
    child.send({ op: 'start', spec });
  });
  const startMs = performance.now() - t0;
  const askRaw = (op: string) =>
    new Promise<unknown>((resolve) => {
      child.once('message', (m: any) => resolve(m?.value));
      child.send({ op });
    });
  const ask = async (op: string) => Number(await askRaw(op));
  return {
    port,
    pid: child.pid!,
    startMs,
    rss: () => ask('rss'),
    heapUsed: () => ask('heap'),
    memory: async () => JSON.parse(String(await askRaw('memory'))),
    heapSnapshot: async (file) => void (await askRaw(`heapsnapshot:${file}`)),
    allocStart: async () => void (await askRaw('alloc-start')),
    allocStop: async (file) => void (await askRaw(`alloc-stop:${file}`)),
    cpuProfileStart: async () => void (await askRaw('cpu-start')),
    cpuProfileStop: async (file) => void (await askRaw(`cpu-stop:${file}`)),
    cpuMicros: () => ask('cpu'),
    tightLoopUs: (bodies, rounds, thrashKiB = 0) =>
      new Promise<number[]>((resolve, reject) => {
        child.once('message', (m: any) => (Array.isArray(m?.value) ? resolve(m.value) : reject(new Error(`tight-loop: ${JSON.stringify(m)}`))));
        child.send({ op: 'tight-loop', bodies, rounds, thrashKiB });
      }),
    maxStallMs: () => ask('stall'),
    stats: () =>
      new Promise<ServerStats>((resolve) => {
        child.once('message', (m: any) => resolve(m?.value as ServerStats));
        child.send({ op: 'stats' });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.send({ op: 'stop' });
      }),
  };
}
