// `npm run bench`: every benchmark with its baseline in the same run, on this machine, written to
// bench/results/<date>.json and .md (the summary tables BENCHMARKS.md quotes). Bounded: each load run has a fixed
// duration, everything stays on loopback, load generators run in their own processes.
//
//   npm run bench -- [--only webhook,scaling,review,adapter,startup] [--repeats 3] [--duration 8] [--quick] [--profile]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAdapter, type AdapterRun } from './adapter.js';
import { describeMachine, machineInfo, waitForQuiet } from './lib/machine.js';
import { summariseProfile } from './lib/profile.js';
import { fmtRange, range, round } from './lib/stats.js';
import { benchPolicyScaling, benchReviewCli, type ReviewCliResult, type ScalingRow } from './policy-scaling.js';
import { benchStartup, type StartupRow } from './startup.js';
import { benchWebhook, type WebhookRun } from './webhook.js';
import type { WebhookVariant } from './lib/servers.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : dflt;
};
const quick = flag('--quick');
const only = new Set(opt('--only', 'webhook,scaling,review,adapter,startup').split(','));
const repeats = Math.min(5, Math.max(1, Number(opt('--repeats', quick ? '1' : '3'))));
const durationS = Math.min(30, Math.max(2, Number(opt('--duration', quick ? '3' : '8'))));
const warmupS = quick ? 1 : 2;
const RATES = [500, 1000, 2000];
const log = (s: string) => console.log(s);

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const stamp = new Date().toISOString().slice(0, 16).replace(':', '-');

const machine = machineInfo();
log(`kube-governor benchmarks — ${describeMachine(machine)}`);
log(`repeats ${repeats}, ${durationS} s per load run after ${warmupS} s warm-up; loopback only`);
const load = await waitForQuiet(2, quick ? 0 : 120_000, log);
log(`load average at start: ${load.toFixed(2)}`);

const results: Record<string, unknown> = { machine, options: { repeats, durationS, warmupS, rates: RATES, quick } };
const md: string[] = [`Machine: ${describeMachine(machine)}. ${repeats} repeat(s), ${durationS} s per load run after ${warmupS} s warm-up. Ranges are min–max over repeats.`, ''];
const r2 = (x: number) => round(x, 2);
const profDir = flag('--profile') ? join(RESULTS, `profiles-${stamp}`) : undefined;

// ---------------------------------------------------------------- 1. webhook
if (only.has('webhook')) {
  log('\n== 1. webhook: HTTPS keep-alive, realistic Deployment, sample policies (/mutate then /validate, alternating)');
  const variants: WebhookVariant[] = ['bare', 'fast', 'express', 'express-json', 'fast-allow', 'express-allow', 'express-json-allow'];
  const { runs, requestBytes } = await benchWebhook({
    variants,
    allRates: ['bare', 'fast'],
    rates: RATES,
    durationS,
    warmupS,
    repeats,
    fixedConnections: 16,
    saturationConnections: 32,
    ...(profDir ? { cpuProfDir: profDir } : {}),
    log,
  });
  results.webhook = { runs, requestBytes };
  const of = (v: WebhookVariant) => runs.filter((r) => r.variant === v);
  const at = (r: WebhookRun, rate: number) => r.fixed.find((f) => f.rate === rate);
  md.push('### Webhook latency at fixed rates (ms, from scheduled send to last byte; 16 keep-alive connections)', '');
  md.push('| server | rate req/s | p50 | p99 | p99.9 | longest event-loop stall | errors |', '|---|---|---|---|---|---|---|');
  for (const v of variants) {
    for (const rate of RATES) {
      const xs = of(v).map((r) => at(r, rate)).filter((x) => x !== undefined);
      if (!xs.length) continue;
      const errs = xs.reduce((a, x) => a + x.non2xx + x.errors, 0);
      md.push(`| ${v} | ${rate}${xs.some((x) => x.overloaded) ? ' (overloaded)' : ''} | ${fmtRange(range(xs.map((x) => x.p50)))} | ${fmtRange(range(xs.map((x) => x.p99)))} | ${fmtRange(range(xs.map((x) => x.p999)))} | ${fmtRange(range(xs.map((x) => x.stallMs)), 0)} | ${errs} |`);
    }
  }
  const added = (v: WebhookVariant, rate: number) =>
    range(of(v).map((r) => (at(r, rate)?.p99 ?? Number.NaN) - (at(runs.find((b) => b.variant === 'bare' && b.repeat === r.repeat)!, rate)?.p99 ?? Number.NaN)));
  md.push('', `p99 added over the bare baseline at 1000 req/s (same repeat): fast ${fmtRange(added('fast', 1000))} ms, express ${fmtRange(added('express', 1000))} ms, express-json ${fmtRange(added('express-json', 1000))} ms (target ≤ 2 ms).`, '');
  md.push('### Webhook saturation (autocannon, 32 keep-alive connections)', '');
  md.push('| server | review | req/s | ratio to bare | server CPU µs/request | RSS MiB |', '|---|---|---|---|---|---|');
  for (const v of variants) {
    const xs = of(v);
    const ratio = range(xs.map((r) => r.saturation.rps / runs.find((b) => b.variant === 'bare' && b.repeat === r.repeat)!.saturation.rps));
    md.push(`| ${v.replace(/-allow$/, '')} | ${v === 'bare' ? 'parse + allow' : v.endsWith('-allow') ? 'decode + allow' : 'full (engine)'} | ${fmtRange(range(xs.map((r) => r.saturation.rps)), 0)} | ${fmtRange(ratio)} | ${fmtRange(range(xs.map((r) => r.cpuPerRequestUs)), 0)} | ${fmtRange(range(xs.map((r) => r.rssMiB)), 0)} |`);
  }
  md.push('', `Request bodies: ${requestBytes.join(' and ')} bytes.`, '');
}

// ---------------------------------------------------------------- 2. policy scaling and offline review
if (only.has('scaling')) {
  log('\n== 2a. policy scaling: engine review (mutate + validate) with 1..1000 GovernancePolicies, one matching');
  const rows: ScalingRow[][] = [];
  for (let r = 0; r < repeats; r++) rows.push(benchPolicyScaling({ counts: [1, 10, 100, 1000], iterations: quick ? 1000 : 4000, log }));
  results.policyScaling = rows;
  md.push('### Review latency by number of GovernancePolicies (one matches; engine in-process, mutate + validate, µs)', '');
  md.push('| policies | others written with `namespaces` p50 / p99 | ratio to 1 policy (p50) | others written with `namespaceSelector` p50 / p99 | ratio to 1 policy (p50) |', '|---|---|---|---|---|');
  for (const n of [1, 10, 100, 1000]) {
    const cell = (how: ScalingRow['noise']) => {
      const xs = rows.map((rs) => rs.find((x) => x.noise === how && x.policies === n)!);
      const ratio = range(rows.map((rs) => rs.find((x) => x.noise === how && x.policies === n)!.p50us / rs.find((x) => x.noise === how && x.policies === 1)!.p50us));
      return `${fmtRange(range(xs.map((x) => x.p50us)), 0)} / ${fmtRange(range(xs.map((x) => x.p99us)), 0)} | ${fmtRange(ratio)}`;
    };
    md.push(`| ${n} | ${cell('namespaces')} | ${cell('namespaceSelector')} |`);
  }
  md.push('');
}
if (only.has('review')) {
  log('\n== 2b. offline governor review on 10,000 manifests');
  const n = quick ? 2000 : 10_000;
  const rs: ReviewCliResult[] = [];
  for (let r = 0; r < Math.min(repeats, 2); r++) rs.push(await benchReviewCli({ manifests: n, log }));
  results.reviewCli = rs;
  md.push(`### Offline \`governor review\` on ${n} Deployments (sample policies)`, '');
  md.push('| governor review wall time s | objects/s | baseline: YAML read + parse + write s | ratio to baseline |', '|---|---|---|---|');
  md.push(`| ${fmtRange(range(rs.map((r) => r.cliWallS)), 1)} | ${fmtRange(range(rs.map((r) => r.objectsPerS)), 0)} | ${fmtRange(range(rs.map((r) => r.yamlBaselineS)), 1)} | ${fmtRange(range(rs.map((r) => r.cliWallS / r.yamlBaselineS)))} |`, '');
}

// ---------------------------------------------------------------- 3. adapter
if (only.has('adapter')) {
  log('\n== 3. adapter: cached desired-replicas requests through the front-proxy client certificate');
  const runs: AdapterRun[] = await benchAdapter({ variants: ['bare', 'fast', 'express'], policyCounts: [10, 10_000], rate: 1000, durationS, warmupS, repeats, connections: 8, saturationConnections: 32, intervalS: 5, log });
  results.adapter = runs;
  md.push('### Adapter value route (20 HPAs polled in turn; 1000 req/s with 8 connections, saturation with 32)', '');
  md.push('| server | ScalingPolicies | p50 ms | p99 ms | p99.9 ms | saturation req/s | ratio to bare | server CPU µs/request | RSS MiB | source queries per policy per interval |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const v of ['bare', 'fast', 'express'] as const) {
    for (const n of [10, 10_000]) {
      const xs = runs.filter((r) => r.variant === v && r.policies === n);
      if (!xs.length) continue;
      const ratio = range(xs.map((r) => r.saturation.rps / runs.find((b) => b.variant === 'bare' && b.repeat === r.repeat)!.saturation.rps));
      const q = xs.every((r) => r.queries) ? fmtRange(range(xs.map((r) => r.queries!.maxPerPolicyPerInterval))) : '–';
      md.push(`| ${v} | ${v === 'bare' ? '–' : n} | ${fmtRange(range(xs.map((r) => r.fixed.p50)))} | ${fmtRange(range(xs.map((r) => r.fixed.p99)))} | ${fmtRange(range(xs.map((r) => r.fixed.p999)))} | ${fmtRange(range(xs.map((r) => r.saturation.rps)), 0)} | ${fmtRange(ratio)} | ${fmtRange(range(xs.map((r) => r.cpuPerRequestUs)), 0)} | ${fmtRange(range(xs.map((r) => r.rssMiB)), 0)} | ${q} |`);
    }
  }
  const qs = runs.filter((r) => r.queries).map((r) => r.queries!);
  md.push('', `Source queries: at most ${Math.max(...qs.map((q) => q.maxPerPolicyPerInterval)).toFixed(2)} per polled policy per ${5} s interval over ${qs.reduce((a, q) => a + q.requests, 0)} value requests (${qs.reduce((a, q) => a + q.total, 0)} queries in all).`, '');
}

// ---------------------------------------------------------------- 4. startup
if (only.has('startup')) {
  log('\n== 4. startup: process start to ready (adapter and webhook /readyz 200)');
  const rows: StartupRow[] = await benchStartup({ repeats, largePolicies: 10_000, build: !flag('--no-build'), log });
  results.startup = rows;
  const base = rows.find((r) => r.runtime === 'node')!;
  md.push('### Startup: process start to both /readyz 200 (certificates already on disk)', '');
  md.push('| what | runtime | ready ms | ratio to bare node | RSS at ready MiB |', '|---|---|---|---|---|');
  for (const r of rows) md.push(`| ${r.what} | ${r.runtime} | ${fmtRange(range(r.readyMs), 0)} | ${r === base ? '1' : fmtRange(range(r.readyMs.map((x, i) => x / base.readyMs[i]!)), 1)} | ${fmtRange(range(r.rssMiB), 0)} |`);
  md.push('');
}

if (profDir) {
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
  results.profiles = files.map((f) => ({ file: f, ...summariseProfile(join(profDir, f), 20) }));
}

mkdirSync(RESULTS, { recursive: true });
results.summary = md.join('\n');
writeFileSync(join(RESULTS, `${stamp}.json`), `${JSON.stringify(results, (_k, v) => (typeof v === 'number' ? r2(v) : v), 2)}\n`);
writeFileSync(join(RESULTS, `${stamp}.md`), `${md.join('\n')}\n`);
log(`\n${md.join('\n')}`);
log(`\nwritten: bench/results/${stamp}.json and .md`);
