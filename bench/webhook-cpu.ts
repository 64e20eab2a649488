// Where a webhook server's CPU goes at saturation: each variant in its own process (bench/lib/servers.ts), in turn,
// for a few rounds. Per request: user and system CPU of the server, the review function's own mean time
// (GOVERNOR_BENCH_TIMING), young-generation GC time; with --strace, the server's syscalls per request (strace -c); with
// --tight-loop, the same server's review functions in a tight loop afterwards, with the caches to themselves and with
// 256 KiB to 4 MiB of other memory touched before each review.
//
//   node --import tsx bench/webhook-cpu.ts [--rounds 2] [--duration 5] [--strace] [--tight-loop] [--exec-argv "<V8 flags>"] variant...
//
// Variants: bench/lib/servers.ts (default: fast-canned fast fast-canned-deny fast-deny). GOVERNOR_BENCH_LOG_LEVEL=warn
// leaves the denial's log line out. Bounded: rounds × variants × (1 s warm-up + duration [+ 3 s with --strace]).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureServingCert } from '../src/tls/serving.js';
import { silentLogger } from '../src/observability/log.js';
import { saturate, type Target } from './lib/load.js';
import { startServer, type WebhookVariant } from './lib/servers.js';
import { isDenyVariant, webhookRequests } from './webhook.js';

const args = process.argv.slice(2);
const value = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const [v] = args.splice(i, 2).slice(1);
  return v ?? fallback;
};
const flag = (name: string) => {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};
const rounds = Math.min(5, Math.max(1, Number(value('--rounds', '2'))));
const durationS = Math.min(20, Math.max(2, Number(value('--duration', '5'))));
const execArgv = value('--exec-argv', '').split(' ').filter(Boolean);
const withStrace = flag('--strace');
const tightLoop = flag('--tight-loop');
const variants = (args.length ? args : ['fast-canned', 'fast', 'fast-canned-deny', 'fast-deny']) as WebhookVariant[];

/** User and system CPU of a process so far, µs (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuOf(pid: number): { user: number; system: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { user: Number(f[11]) * 10_000, system: Number(f[12]) * 10_000 };
}

/** strace -c on the server for one saturation run: calls per request, by syscall. */
async function syscalls(pid: number, run: () => Promise<number>): Promise<string> {
  const st = spawn('strace', ['-c', '-f', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  st.stderr.on('data', (c) => (out += c));
  await new Promise((r) => setTimeout(r, 500));
  const requests = await run();
  st.kill('SIGINT');
  await new Promise((r) => st.once('exit', r));
  return out
    .split('\n')
    .filter((l) => /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+/.test(l))
    .map((l) => l.trim().split(/\s+/))
    .map((p) => ({ name: p[p.length - 1]!, calls: Number(p[3]) / requests }))
    .filter((x) => x.calls >= 0.01)
    .map((x) => `${x.name} ${x.calls.toFixed(2)}`)
    .join(', ');
}

const dir = mkdtempSync(join(tmpdir(), 'kg-bench-webhook-cpu-'));
try {
  const certs = await ensureServingCert({ certDir: dir, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, silentLogger);
  const ca = readFileSync(certs.caFile!, 'utf8');
  console.log(`webhook CPU at saturation: ${rounds} round(s) of ${variants.join(', ')}; ${durationS} s each${execArgv.length ? `; server V8 flags: ${execArgv.join(' ')}` : ''}; load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      const server = await startServer({ kind: 'webhook', variant, certFile: certs.certFile, keyFile: certs.keyFile }, { env: { GOVERNOR_BENCH_TIMING: '1' }, execArgv });
      try {
        const target: Target = { host: '127.0.0.1', port: server.port, ca, servername: 'localhost' };
        const requests = webhookRequests(isDenyVariant(variant));
        await saturate({ target, requests, connections: 32, durationS: 1, warmupS: 0 });
        await server.stats(); // resets the review timings and GC counts
        const c0 = cpuOf(server.pid);
        const sat = await saturate({ target, requests, connections: 32, durationS, warmupS: 0 });
        const c1 = cpuOf(server.pid);
        const stats = await server.stats();
        const gcMs = Object.values(stats.gc).reduce((a, g) => a + g.ms, 0);
        const review = stats.reviewUs;
        const perRequest = (us: number) => (us / sat.requests).toFixed(1);
        console.log(
          `#${round} ${variant.padEnd(17)} ${sat.rps.toFixed(0).padStart(6)} req/s; CPU per request: user ${perRequest(c1.user - c0.user)} µs, system ${perRequest(c1.system - c0.system)} µs; ` +
            `review mean /mutate ${review?.mutate.mean.toFixed(1)} µs, /validate ${review?.validate.mean.toFixed(1)} µs; GC ${((gcMs * 1000) / sat.requests).toFixed(1)} µs per request (${stats.gc.minor?.n ?? 0} scavenges)`,
        );
        if (withStrace) console.log(`   syscalls per request: ${await syscalls(server.pid, async () => (await saturate({ target, requests, connections: 32, durationS: 3, warmupS: 0 })).requests)}`);
        if (tightLoop && variant !== 'bare' && variant !== 'bare-deny') {
          const bodies = requests.map((r) => r.body!);
          const cells: string[] = [];
          for (const kib of [0, 256, 1024, 4096]) {
            const [m, v] = await server.tightLoopUs(bodies, 20_000, kib);
            cells.push(`${kib ? `${kib} KiB touched` : 'alone'}: /mutate ${m!.toFixed(1)}, /validate ${v!.toFixed(1)}`);
          }
          console.log(`   tight loop, µs per review: ${cells.join('; ')}`);
        }
      } finally {
        await server.stop();
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
