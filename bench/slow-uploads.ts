// Stalled uploads against `governor serve` (issue 17, point 2): N TLS connections each send the headers of a 3 MiB
// POST /validate and most of its body, then stall. The server runs as a child process (webhook only, loopback); its
// RSS is sampled from /proc while the uploads are held, after they close, and a normal review is timed meanwhile.
// Bounded: N connections, one hold period, one cool-down; nothing leaves 127.0.0.1.
//
//   node --import tsx bench/slow-uploads.ts [--connections 300] [--hold 20] [--cooldown 10] [--dist] [--json]
// --dist runs the build (npm run build first), what the image runs; without it the sources run through tsx.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BUILT_CLI } from './lib/deployment.js';
import { connect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { admissionReview, realisticDeployment } from '../test/integration/webhook_fixtures.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BODY_BYTES = 3 * 1024 * 1024;

export interface SlowUploadResult {
  readonly connections: number;
  readonly rssBeforeMiB: number;
  readonly rssPeakMiB: number;
  /** RSS at the end of the hold period, uploads still open (or already cut by the server). */
  readonly rssHeldMiB: number;
  /** RSS after the client closed every connection and the cool-down passed. */
  readonly rssAfterMiB: number;
  /** How the stalled uploads ended: the status the server answered, 'closed' (no answer), or 'open' at the end of the hold. */
  readonly outcomes: Record<string, number>;
  /** Seconds from the start of the stall until the server had answered or closed every upload (null: some still open). */
  readonly allEndedAfterS: number | null;
  /** Seconds until every upload had sent its bytes or been cut off (the normal review goes out then). */
  readonly floodS: number;
  /** A normal review sent while the uploads are held: its status and latency. */
  readonly normalReview: { status: number | string; ms: number };
  readonly samples: { t: number; rssMiB: number }[];
}

export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

export interface ServeChild {
  readonly child: ChildProcess;
  readonly port: number;
  readonly ca: string;
  readonly dir: string;
  /** With `gcHook`: a full GC in the child, then its RSS in MiB (read from /proc). */
  gc(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * `governor serve` (webhook only, loopback, generated certificates) in a child process. With `gcHook` the child is
 * test/hardening/serve-gc-child.ts: the same CLI, started with --expose-gc, that runs a full GC when asked over IPC.
 */
export async function startServe(extraArgs: readonly string[] = [], o: { gcHook?: boolean; dist?: boolean | string; env?: Record<string, string> } = {}): Promise<ServeChild> {
  const dir = mkdtempSync(join(tmpdir(), 'kg-slow-'));
  // dist: the build (the package's bin, dist/bundle/cli.js, or the given cli.js), what the image runs; otherwise the sources through tsx.
  const cli = typeof o.dist === 'string' ? o.dist : o.dist ? BUILT_CLI : 'src/cli.ts';
  if (o.dist && !existsSync(resolve(ROOT, cli))) throw new Error(`no ${cli}: run npm run build first`);
  const child = spawn(
    process.execPath,
    [...(o.gcHook ? ['--expose-gc'] : []), ...(o.dist ? [] : ['--import', 'tsx']), o.gcHook ? 'test/hardening/serve-gc-child.mjs' : cli, 'serve', '--no-adapter', '--policies', 'policies/governance', '--bind-address', '127.0.0.1', '--webhook-port', '0', '--metrics-port', '0', '--cert-dir', join(dir, 'certs'), '--no-cluster-policies', ...extraArgs],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', ...(o.gcHook ? (['ipc'] as const) : [])], env: { ...process.env, ...o.env, KUBERNETES_SERVICE_HOST: '', KG_SERVE_CLI: cli } },
  );
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`not serving within 45 s: ${stderr}`)), 45_000);
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c;
      for (const line of buf.split('\n')) {
        const m = /"msg":"kube-governor serving"/.test(line) ? /"webhook":(\d+)/.exec(line) : null;
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      }
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
  return {
    child,
    port,
    ca,
    dir,
    gc() {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no answer to gc')), 10_000);
        child.once('message', (m) => {
          clearTimeout(t);
          resolve(rssMiB(child.pid!));
        });
        child.send('gc');
      });
    },
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One stalled upload: headers for a 3 MiB body, then `send` bytes of it, then nothing. Resolves with how it ended. */
export function stalledUpload(port: number, ca: string, send: number, ended: (how: string) => void, sent?: () => void): TLSSocket {
  const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  let answer = '';
  let done = false;
  const end = (how: string) => {
    if (done) return;
    done = true;
    ended(how);
  };
  s.on('secureConnect', () => {
    s.write(`POST /validate?timeout=5s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${BODY_BYTES}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let left = send;
    const pump = () => {
      while (left > 0 && !s.destroyed) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
      }
      if (left === 0) s.write('', () => sent?.()); // handed to the kernel: from here on the upload is stalled
    };
    pump();
  });
  s.on('data', (c: Buffer) => {
    answer += c.toString('latin1');
    const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
    if (m) end(m[1]!);
  });
  s.on('error', () => end('closed'));
  s.on('close', () => end('closed'));
  return s;
}

export function normalReview(port: number, ca: string): Promise<{ status: number | string; ms: number }> {
  const body = JSON.stringify(admissionReview({ uid: 'normal', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: realisticDeployment() }));
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/validate?timeout=5s', method: 'POST', ca, servername: 'localhost', agent: false, timeout: 10_000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, ms: Math.round(performance.now() - started) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: (e as Error).message, ms: Math.round(performance.now() - started) }));
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function slowUploads(o: { connections: number; holdS: number; cooldownS: number; serveArgs?: readonly string[]; dist?: boolean }): Promise<SlowUploadResult> {
  const server = await startServe(o.serveArgs ?? [], { dist: o.dist ?? false });
  const pid = server.child.pid!;
  try {
    await sleep(1000);
    const rssBefore = rssMiB(pid);
    const samples: { t: number; rssMiB: number }[] = [];
    const t0 = performance.now();
    const sample = () => samples.push({ t: Math.round((performance.now() - t0) / 100) / 10, rssMiB: rssMiB(pid) });
    const timer = setInterval(sample, 250);
    const outcomes: Record<string, number> = {};
    let ended = 0;
    let allEndedAt: number | null = null;
    let holding = true;
    const sockets: TLSSocket[] = [];
    let settled = 0;
    for (let i = 0; i < o.connections; i++) {
      let counted = false;
      const settle = () => {
        if (!counted) (counted = true), settled++;
      };
      sockets.push(
        stalledUpload(
          server.port,
          server.ca,
          BODY_BYTES - 1024,
          (how) => {
            settle();
            if (!holding) return; // closed by this script after the hold
            outcomes[how] = (outcomes[how] ?? 0) + 1;
            if (++ended === o.connections) allEndedAt = performance.now();
          },
          settle,
        ),
      );
      if (i % 20 === 19) await sleep(10); // a few handshakes at a time, as a client pool would open them
    }
    // The normal review goes out once every upload has sent its bytes (or was cut off): the flood is over, what is
    // left is stalled, and this process's own event loop (busy encrypting the flood) no longer delays the answer.
    while (settled < o.connections && performance.now() - t0 < o.holdS * 1000) await sleep(100);
    const floodS = Math.round((performance.now() - t0) / 100) / 10;
    const normal = await normalReview(server.port, server.ca);
    await sleep(Math.max(0, t0 + o.holdS * 1000 - performance.now()));
    sample();
    const rssHeld = samples.at(-1)!.rssMiB;
    const open = o.connections - ended;
    holding = false;
    for (const s of sockets) s.destroy();
    await sleep(o.cooldownS * 1000);
    sample();
    clearInterval(timer);
    if (open) outcomes.open = open;
    return {
      connections: o.connections,
      rssBeforeMiB: rssBefore,
      rssPeakMiB: Math.max(...samples.map((s) => s.rssMiB)),
      rssHeldMiB: rssHeld,
      rssAfterMiB: samples.at(-1)!.rssMiB,
      outcomes,
      allEndedAfterS: allEndedAt === null ? null : Math.round((allEndedAt - t0) / 100) / 10,
      normalReview: normal,
      floodS,
      samples,
    };
  } finally {
    await server.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, dflt: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const connections = Math.min(arg('connections', 300), 1000);
  const r = await slowUploads({ connections, holdS: Math.min(arg('hold', 20), 120), cooldownS: Math.min(arg('cooldown', 10), 60), dist: process.argv.includes('--dist') });
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(r)}\n`);
  else {
    const { samples, ...rest } = r;
    console.log(JSON.stringify(rest, null, 2));
    console.log('RSS MiB every 250 ms:', samples.map((s) => s.rssMiB).join(' '));
  }
}
