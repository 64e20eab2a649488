// Where the webhook's latency tail comes from: each configuration runs at a fixed rate (1000 req/s by default) in
// its own server process, alternating over rounds, and reports the client's p50/p99/p99.9 beside what the server saw
// in the same window: garbage collections by kind (count, total and longest pause), the event loop's delay
// percentiles and the review function's own time per request (decode, engine, handler, encode).
//
//   node --import tsx bench/webhook-tail.ts [--rounds 3] [--duration 5] [--rate 1000] [--warmup 1] [config ...]
//
// A config is a webhook variant (bench/lib/servers.ts) with optional knobs after colons: `log=warn` (the server's log
// level: a denial is logged at info), `semi=64` (--max-semi-space-size, MiB), `notiming` (no review timing).
// Default: bare-deny fast-deny fast-deny:log=warn fast.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/observability/log.js';
import { ensureServingCert } from '../src/tls/serving.js';
import { fixedRate, type Target } from './lib/load.js';
import { startServer, type ServerStats, type WebhookVariant } from './lib/servers.js';
import { isDenyVariant, webhookRequests } from './webhook.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv.splice(i, 2)[1]! : dflt;
};
const rounds = Math.min(6, Math.max(1, Number(opt('--rounds', '3'))));
const durationS = Math.min(10, Math.max(2, Number(opt('--duration', '5'))));
const rate = Math.min(4000, Math.max(100, Number(opt('--rate', '1000'))));
const warmupS = Math.min(30, Math.max(1, Number(opt('--warmup', '1'))));
const configs = argv.length ? argv : ['bare-deny', 'fast-deny', 'fast-deny:log=warn', 'fast'];

interface Row {
  config: string;
  round: number;
  p50: number;
  p99: number;
  p999: number;
  stats: ServerStats;
}

const dir = mkdtempSync(join(tmpdir(), 'kg-bench-tail-'));
const rows: Row[] = [];
try {
  const certs = await ensureServingCert({ certDir: dir, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, silentLogger);
  const ca = readFileSync(certs.caFile!, 'utf8');
  const allowed = webhookRequests();
  const denied = webhookRequests(true);
  for (let round = 1; round <= rounds; round++) {
    for (const config of round % 2 ? configs : [...configs].reverse()) {
      const [variant, ...knobs] = config.split(':') as [WebhookVariant, ...string[]];
      const knob = (k: string) => knobs.find((x) => x === k || x.startsWith(`${k}=`))?.split('=')[1] ?? (knobs.includes(k) ? '' : undefined);
      const env: NodeJS.ProcessEnv = { GOVERNOR_BENCH_TIMING: knob('notiming') === undefined ? '1' : '0' };
      if (knob('log')) env.GOVERNOR_BENCH_LOG_LEVEL = knob('log');
      const execArgv = knob('semi') ? [`--max-semi-space-size=${knob('semi')}`] : [];
      const server = await startServer({ kind: 'webhook', variant, certFile: certs.certFile, keyFile: certs.keyFile }, { env, execArgv });
      try {
        const target: Target = { host: '127.0.0.1', port: server.port, ca, servername: 'localhost' };
        const requests = isDenyVariant(variant) ? denied : allowed;
        // Warm-up (JIT, caches), then the measured window alone in the server's statistics.
        await fixedRate({ target, requests, connections: 16, rate, durationS: warmupS, warmupS: 0 });
        await server.stats();
        const r = await fixedRate({ target, requests, connections: 16, rate, durationS, warmupS: 0 });
        const stats = await server.stats();
        rows.push({ config, round, p50: r.p50, p99: r.p99, p999: r.p999, stats });
        const gc = Object.entries(stats.gc)
          .map(([k, g]) => `${k} ${g.n}× ${g.ms.toFixed(1)} ms (max ${g.maxMs.toFixed(2)})`)
          .join(', ');
        const rev = stats.reviewUs ? ` | review µs p50/p99/max: mutate ${f0(stats.reviewUs.mutate)}, validate ${f0(stats.reviewUs.validate)}` : '';
        console.log(`#${round} ${config.padEnd(22)} p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} p99.9 ${r.p999.toFixed(2)} ms | gc ${gc} | loop delay p99 ${stats.loopDelayMs.p99.toFixed(2)} max ${stats.loopDelayMs.max.toFixed(1)} ms${rev}`);
      } finally {
        await server.stop();
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function f0(p: { p50: number; p99: number; max: number }): string {
  return `${p.p50.toFixed(0)}/${p.p99.toFixed(0)}/${p.max.toFixed(0)}`;
}

console.log('\n| config | p99 ms (per round) | p99.9 ms | minor GCs per s | minor GC ms per s | longest minor GC ms | validate review p99 µs |');
console.log('|---|---|---|---|---|---|---|');
for (const config of configs) {
  const mine = rows.filter((r) => r.config === config);
  const col = (f: (r: Row) => number, d = 2) => mine.map((r) => f(r).toFixed(d)).join(', ');
  const minor = (r: Row) => r.stats.gc.minor ?? { n: 0, ms: 0, maxMs: 0 };
  console.log(
    `| ${config} | ${col((r) => r.p99)} | ${col((r) => r.p999)} | ${col((r) => minor(r).n / durationS, 1)} | ${col((r) => minor(r).ms / durationS, 1)} | ${col((r) => minor(r).maxMs)} | ${col((r) => r.stats.reviewUs?.validate.p99 ?? 0, 0)} |`,
  );
}
