// `npm run bench`: every benchmark with its baseline in the same run, on this machine, written to
// bench/results/<date>.json and .md (the summary tables BENCHMARKS.md quotes). Bounded: each load run has a fixed
// duration, everything stays on loopback, load generators run in their own processes.
//
//   npm run bench -- [--only webhook,scaling,review,adapter,startup] [--variants bare,fast] [--repeats 3] [--duration 8] [--quick] [--profile]
//   npm run bench -- --only peers   (every peer comparison; not in the default list; or peers-review, peers-kyverno, peers-adapter)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAdapter } from './adapter.js';
import { benchPeersAdapter, peersAdapterTable } from './peers/adapter.js';
import { describeMachine, machineInfo, waitForQuiet } from './lib/machine.js';
import { summariseProfile } from './lib/profile.js';
import { round } from './lib/stats.js';
import { RATES, summaryTables, type BenchResults } from './lib/summary.js';
import { benchPolicyScaling, benchReviewCli, type ReviewCliResult, type ScalingRow } from './policy-scaling.js';
import { benchStartup } from './startup.js';
import { benchPeersReview, peersReviewTable } from './peers/review.js';
import { benchWebhook } from './webhook.js';
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
  const all: WebhookVariant[] = ['bare', 'fast', 'bare-deny', 'fast-deny', 'express', 'express-json', 'fast-allow', 'express-allow', 'express-json-allow'];
  // --variants bare,fast: a shorter run while working on one variant (the baseline should stay in the list).
  // Only when named: the review replaced by its answer (the answer's own cost, for a breakdown of the CPU per request).
  const optional: WebhookVariant[] = ['fast-canned', 'fast-canned-deny'];
  const variants = [...all, ...optional].filter((v) => opt('--variants', all.join(',')).split(',').includes(v));
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
}

// ---------------------------------------------------------------- 2. policy scaling and offline review
if (only.has('scaling')) {
  log('\n== 2a. policy scaling: engine review (mutate + validate) with 1..1000 GovernancePolicies, one matching');
  const rows: ScalingRow[][] = [];
  for (let r = 0; r < repeats; r++) rows.push(benchPolicyScaling({ counts: [1, 10, 100, 1000], iterations: quick ? 1000 : 4000, log }));
  results.policyScaling = rows;
}
if (only.has('review')) {
  log('\n== 2b. offline governor review on 10,000 manifests');
  const n = quick ? 2000 : 10_000;
  const rs: ReviewCliResult[] = [];
  for (let r = 0; r < Math.min(repeats, 2); r++) rs.push(await benchReviewCli({ manifests: n, log }));
  results.reviewCli = rs;
}

// ---------------------------------------------------------------- 3. adapter
if (only.has('adapter')) {
  log('\n== 3. adapter: cached desired-replicas requests through the front-proxy client certificate');
  const runs = await benchAdapter({ variants: ['bare', 'fast', 'express'], policyCounts: [10, 10_000], rate: 1000, durationS, warmupS, repeats, connections: 8, saturationConnections: 32, intervalS: 5, ...(profDir ? { cpuProfDir: profDir } : {}), log });
  results.adapter = runs;
}

// ---------------------------------------------------------------- 4. startup
if (only.has('startup')) {
  log('\n== 4. startup: process start to ready (adapter and webhook /readyz 200)');
  const rows = await benchStartup({ repeats, largePolicies: 10_000, build: !flag('--no-build'), log });
  results.startup = rows;
}

// ---------------------------------------------------------------- peers: governor review (the compiled CLI)
if (only.has('peers') || only.has('peers-review')) {
  log('\n== peers: governor review (dist/bundle/cli.js) on 1, 1,000 and 10,000 seeded Deployments: wall, CPU, peak RSS, verdicts');
  if (!flag('--no-build')) {
    log('  building dist/ (npm run build)');
    const { execFileSync } = await import('node:child_process');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: fileURLToPath(new URL('../', import.meta.url)), stdio: 'inherit' });
  }
  const counts = opt('--review-counts', quick ? '1,1000' : '1,1000,10000').split(',').map(Number);
  const baseline = opt('--review-baseline', '');
  const rows = await benchPeersReview({ counts, repeats, ...(baseline ? { baselineCli: baseline } : {}), log });
  results.peersReview = rows;
  md.push(...peersReviewTable(rows));
}

// ---------------------------------------------------------------- peers: Kyverno (not in the default --only list)
if (only.has('peers') || only.has('peers-kyverno')) {
  const { benchKyvernoCli, kyvernoCliTable } = await import('./peers/kyverno-cli.js');
  const { benchKyvernoWebhook, kyvernoWebhookTable } = await import('./peers/kyverno-webhook.js');
  log('\n== peers: governor review vs the Kyverno CLI (kyverno apply), equivalent policies (bench/peers/kyverno/)');
  // dist/ is built once: by the section above when it ran.
  const built = only.has('peers') || only.has('peers-review');
  const cli = await benchKyvernoCli({ sizes: quick ? [1, 1000] : [1, 1000, 10_000], repeats: Math.min(repeats, 3), build: !flag('--no-build') && !built, log });
  log('\n== peers: governor webhook vs the Kyverno admission controller, on the local control plane (hack/local-cluster.sh)');
  const webhook = await benchKyvernoWebhook({ requests: quick ? 200 : 500, concurrency: 8, repeats: Math.min(repeats, 2), build: false, log });
  results.peersKyverno = { cli, webhook };
  md.push(...kyvernoCliTable(cli), ...kyvernoWebhookTable(webhook));
}

// ---------------------------------------------------------------- peers (not in the default list)
if (only.has('peers') || only.has('peers-adapter')) {
  log('\n== peers: the governor adapter against prometheus-adapter, on the local control plane, same Prometheus');
  const runs = await benchPeersAdapter({ counts: [1, 1000], rate: 1000, durationS, warmupS, repeats, log });
  results.peersAdapter = runs;
  md.push('### Peers: adapter vs prometheus-adapter', '', ...peersAdapterTable(runs, { durationS, warmupS }), '');
}

if (profDir) {
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
  results.profiles = files.map((f) => ({ file: f, ...summariseProfile(join(profDir, f), 20) }));
}

md.push(...summaryTables(results as BenchResults));
mkdirSync(RESULTS, { recursive: true });
results.summary = md.join('\n');
writeFileSync(join(RESULTS, `${stamp}.json`), `${JSON.stringify(results, (_k, v) => (typeof v === 'number' ? r2(v) : v), 2)}\n`);
writeFileSync(join(RESULTS, `${stamp}.md`), `${md.join('\n')}\n`);
log(`\n${md.join('\n')}`);
log(`\nwritten: bench/results/${stamp}.json and .md`);
