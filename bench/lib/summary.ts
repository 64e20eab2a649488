// The summary tables of a bench run (or of several merged runs): markdown, ranges min–max over repeats, ratios to the
// baseline of the same repeat.
import type { AdapterRun } from '../adapter.js';
import type { ReviewCliResult, ScalingRow } from '../policy-scaling.js';
import type { StartupRow } from '../startup.js';
import type { WebhookRun } from '../webhook.js';
import type { WebhookVariant } from './servers.js';
import { fmtRange, range } from './stats.js';

export interface BenchResults {
  webhook?: { runs: WebhookRun[]; requestBytes: number[] };
  policyScaling?: ScalingRow[][];
  reviewCli?: ReviewCliResult[];
  adapter?: AdapterRun[];
  startup?: StartupRow[];
}

export const RATES = [500, 1000, 2000];
const VARIANTS: WebhookVariant[] = ['bare', 'fast-allow', 'fast-canned', 'fast', 'bare-deny', 'fast-canned-deny', 'fast-deny', 'express', 'express-json', 'express-allow', 'express-json-allow'];

export function summaryTables(r: BenchResults): string[] {
  const md: string[] = [];
  if (r.webhook) {
    const { runs, requestBytes } = r.webhook;
    const of = (v: WebhookVariant) => runs.filter((x) => x.variant === v);
    const at = (x: WebhookRun, rate: number) => x.fixed.find((f) => f.rate === rate);
    // The denied workload is compared with the bare server answering a denial to the same requests.
    const bareOf = (x: { repeat: number; variant: WebhookVariant }) => runs.find((b) => b.variant === (x.variant.endsWith('-deny') ? 'bare-deny' : 'bare') && b.repeat === x.repeat)!;
    md.push('### Webhook latency at fixed rates (ms, from scheduled send to last byte; 16 keep-alive connections)', '');
    md.push('| server | rate req/s | p50 | p99 | p99.9 | longest event-loop stall | errors |', '|---|---|---|---|---|---|---|');
    for (const v of VARIANTS) {
      for (const rate of RATES) {
        const xs = of(v).map((x) => at(x, rate)).filter((x) => x !== undefined);
        if (!xs.length) continue;
        const errs = xs.reduce((a, x) => a + x.non2xx + x.errors, 0);
        md.push(`| ${v} | ${rate}${xs.some((x) => x.overloaded) ? ' (overloaded)' : ''} | ${fmtRange(range(xs.map((x) => x.p50)))} | ${fmtRange(range(xs.map((x) => x.p99)))} | ${fmtRange(range(xs.map((x) => x.p999)))} | ${fmtRange(range(xs.map((x) => x.stallMs)), 0)} | ${errs} |`);
      }
    }
    const added = (v: WebhookVariant, rate: number) => range(of(v).map((x) => (at(x, rate)?.p99 ?? Number.NaN) - (at(bareOf(x), rate)?.p99 ?? Number.NaN)));
    const addedText = (['fast', 'fast-deny', 'express', 'express-json'] as const)
      .filter((v) => of(v).some((x) => at(x, 1000)))
      .map((v) => `${v}${v === 'fast-deny' ? ' (over bare-deny)' : ''} ${fmtRange(added(v, 1000))} ms`)
      .join(', ');
    md.push('', `p99 added over the bare baseline at 1000 req/s (same repeat): ${addedText} (target ≤ 1 ms).`, '');
    md.push('### Webhook saturation (autocannon, 32 keep-alive connections)', '');
    md.push('| server | review | req/s | ratio to bare | server CPU µs/request | RSS MiB |', '|---|---|---|---|---|---|');
    for (const v of VARIANTS) {
      const xs = of(v);
      if (!xs.length) continue;
      const ratio = range(xs.map((x) => x.saturation.rps / bareOf(x).saturation.rps));
      md.push(`| ${v.replace(/-allow$/, '').replace(/^fast-canned/, 'fast')} | ${v === 'bare' ? 'parse + allow' : v === 'bare-deny' ? 'parse + deny (denied workload)' : v.endsWith('-allow') ? 'decode + allow' : v.startsWith('fast-canned') ? `decode + production's answer, canned${v.endsWith('-deny') ? ', denied workload' : ''}` : v.endsWith('-deny') ? 'full (engine), denied workload' : 'full (engine)'} | ${fmtRange(range(xs.map((x) => x.saturation.rps)), 0)} | ${fmtRange(ratio)} | ${fmtRange(range(xs.map((x) => x.cpuPerRequestUs)), 0)} | ${fmtRange(range(xs.map((x) => x.rssMiB)), 0)} |`);
    }
    // Where the production server's CPU per request goes, step by step, each step a variant of the same repeat: the
    // HTTP layer (fast-allow over bare), the answer's bytes (fast-canned over fast-allow), the review (fast over
    // fast-canned). Ranges over repeats.
    for (const [workload, steps] of [
      ['allowed', ['bare', 'fast-allow', 'fast-canned', 'fast']],
      ['denied', ['bare-deny', 'fast-canned-deny', 'fast-deny']],
    ] as const) {
      const present = steps.filter((v) => of(v).length);
      if (present.length < 3 || !present.some((v) => v.startsWith('fast-canned'))) continue;
      const cpu = (v: WebhookVariant, repeat: number) => of(v).find((x) => x.repeat === repeat)?.cpuPerRequestUs ?? Number.NaN;
      const repeats = [...new Set(of(present[0]!).map((x) => x.repeat))];
      const parts = present.slice(1).map((v, i) => `${v} ${fmtRange(range(repeats.map((r) => cpu(v, r) - cpu(present[i]!, r))), 0)}`);
      md.push(`Server CPU per request, ${workload} workload, step by step (µs added by each variant over the one before it): ${present[0]} ${fmtRange(range(repeats.map((r) => cpu(present[0]!, r))), 0)}, then ${parts.join(', ')}.`);
      // The review's share of a 0.75 ratio: what the baseline's CPU allows, less the HTTP layer with the answer canned.
      const canned = present.find((v) => v.startsWith('fast-canned'));
      const full = present[present.length - 1]!;
      const tight = repeats.map((r) => of(full).find((x) => x.repeat === r)?.tightLoopUs).filter((x) => x !== undefined);
      if (canned && tight.length) {
        const budget = range(repeats.map((r) => cpu(present[0]!, r) / 0.75 - cpu(canned, r)));
        const perRequest = range(tight.map((h) => h.reduce((a, x) => a + x, 0) / h.length));
        md.push(
          `A ratio of 0.75 leaves the review ${fmtRange(budget, 1)} µs per request (${present[0]} ÷ 0.75 − ${canned}); the same review functions in a tight loop in the server process take ${fmtRange(perRequest, 1)} µs per request (/mutate ${fmtRange(range(tight.map((h) => h[0]!)), 1)}, /validate ${fmtRange(range(tight.map((h) => h[1]!)), 1)}), while in the server they add ${fmtRange(range(repeats.map((r) => cpu(full, r) - cpu(canned, r))), 0)} µs of server CPU per request (${full} − ${canned}).`,
        );
      }
      md.push('');
    }
    md.push('', `Request bodies: ${requestBytes.join(' and ')} bytes.`, '');
  }
  if (r.policyScaling) {
    const rows = r.policyScaling;
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
  if (r.reviewCli?.length) {
    const rs = r.reviewCli;
    md.push(`### Offline \`governor review\` on ${rs[0]!.manifests} Deployments (sample policies)`, '');
    md.push('| governor review wall time s | objects/s | baseline: YAML read + parse + write s | ratio to baseline |', '|---|---|---|---|');
    md.push(`| ${fmtRange(range(rs.map((x) => x.cliWallS)), 1)} | ${fmtRange(range(rs.map((x) => x.objectsPerS)), 0)} | ${fmtRange(range(rs.map((x) => x.yamlBaselineS)), 1)} | ${fmtRange(range(rs.map((x) => x.cliWallS / x.yamlBaselineS)))} |`, '');
  }
  if (r.adapter) {
    const runs = r.adapter;
    md.push('### Adapter value route (20 HPAs polled in turn; 1000 req/s with 8 connections, saturation with 32)', '');
    md.push('| server | ScalingPolicies | p50 ms | p99 ms | p99.9 ms | saturation req/s | ratio to bare | server CPU µs/request | RSS MiB | source queries per policy per interval |', '|---|---|---|---|---|---|---|---|---|---|');
    for (const v of ['bare', 'fast', 'express'] as const) {
      for (const n of [10, 10_000]) {
        const xs = runs.filter((x) => x.variant === v && x.policies === n);
        if (!xs.length) continue;
        const ratio = range(xs.map((x) => x.saturation.rps / runs.find((b) => b.variant === 'bare' && b.repeat === x.repeat)!.saturation.rps));
        const q = xs.every((x) => x.queries) ? fmtRange(range(xs.map((x) => x.queries!.maxPerPolicyPerInterval))) : '–';
        md.push(`| ${v} | ${v === 'bare' ? '–' : n} | ${fmtRange(range(xs.map((x) => x.fixed.p50)))} | ${fmtRange(range(xs.map((x) => x.fixed.p99)))} | ${fmtRange(range(xs.map((x) => x.fixed.p999)))} | ${fmtRange(range(xs.map((x) => x.saturation.rps)), 0)} | ${fmtRange(ratio)} | ${fmtRange(range(xs.map((x) => x.cpuPerRequestUs)), 0)} | ${fmtRange(range(xs.map((x) => x.rssMiB)), 0)} | ${q} |`);
      }
    }
    const qs = runs.filter((x) => x.queries).map((x) => x.queries!);
    md.push('', `Source queries: at most ${Math.max(...qs.map((q) => q.maxPerPolicyPerInterval)).toFixed(2)} per polled policy per 5 s interval over ${qs.reduce((a, q) => a + q.requests, 0)} value requests (${qs.reduce((a, q) => a + q.total, 0)} queries in all).`, '');
  }
  if (r.startup) {
    const rows = r.startup;
    const base = rows.find((x) => x.runtime === 'node')!;
    md.push('### Startup: process start to both /readyz 200 (certificates already on disk)', '');
    md.push('| what | runtime | ready ms | ratio to bare node | RSS at ready MiB |', '|---|---|---|---|---|');
    for (const x of rows) md.push(`| ${x.what} | ${x.runtime} | ${fmtRange(range(x.readyMs), 0)} | ${x === base ? '1' : fmtRange(range(x.readyMs.map((v, i) => v / base.readyMs[i]!)), 1)} | ${fmtRange(range(x.rssMiB), 0)} |`);
    md.push('');
  }
  return md;
}

/** Several runs as one: repeats renumbered so each keeps its own baseline; startup samples concatenated. */
export function mergeResults(all: BenchResults[]): BenchResults {
  const out: BenchResults = {};
  let offset = 0;
  for (const r of all) {
    const maxRepeat = Math.max(0, ...(r.webhook?.runs ?? []).map((x) => x.repeat), ...(r.adapter ?? []).map((x) => x.repeat));
    if (r.webhook) out.webhook = { requestBytes: r.webhook.requestBytes, runs: [...(out.webhook?.runs ?? []), ...r.webhook.runs.map((x) => ({ ...x, repeat: x.repeat + offset }))] };
    if (r.adapter) out.adapter = [...(out.adapter ?? []), ...r.adapter.map((x) => ({ ...x, repeat: x.repeat + offset }))];
    if (r.policyScaling) out.policyScaling = [...(out.policyScaling ?? []), ...r.policyScaling];
    if (r.reviewCli) out.reviewCli = [...(out.reviewCli ?? []), ...r.reviewCli];
    if (r.startup) {
      const rows = new Map((out.startup ?? []).map((x) => [`${x.runtime}|${x.what}`, x]));
      for (const x of r.startup) {
        const prev = rows.get(`${x.runtime}|${x.what}`);
        rows.set(`${x.runtime}|${x.what}`, prev ? { ...prev, readyMs: [...prev.readyMs, ...x.readyMs], rssMiB: [...prev.rssMiB, ...x.rssMiB] } : x);
      }
      out.startup = [...rows.values()];
    }
    offset += maxRepeat;
  }
  return out;
}
