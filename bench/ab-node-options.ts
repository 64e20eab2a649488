// The adapter at 10,000 ScalingPolicies under different V8 heap options (the young generation's semi-space above all),
// alternating in one run: each round runs the bare server and the production adapter once per option set, the order
// reversed every other round, so drift of a shared machine falls on every set. Prints server CPU µs per request, p99
// at the fixed rate, the longest stall, RSS at ready and after the load, and the ratio to the bare server of the same
// option set and round.
//
//   node --import tsx bench/ab-node-options.ts [--rounds 2] [--duration 3] [--policies 10000] \
//     [--sets 'semi8=--max-old-space-size=192 --max-semi-space-size=8;semi16=--max-old-space-size=192 --max-semi-space-size=16;defaults=']
//   (a set may add environment variables: 'arena2=--max-semi-space-size=8|MALLOC_ARENA_MAX=2')
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchAdapter, type AdapterRun } from './adapter.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const rounds = Math.min(4, Math.max(1, Number(opt('--rounds', '2'))));
const durationS = Math.min(5, Math.max(2, Number(opt('--duration', '3'))));
const policies = Math.min(20_000, Math.max(10, Number(opt('--policies', '10000'))));
const sets = opt('--sets', 'semi8=--max-old-space-size=192 --max-semi-space-size=8;semi16=--max-old-space-size=192 --max-semi-space-size=16;defaults=')
  .split(';')
  .filter(Boolean)
  .map((s) => {
    // name=<NODE_OPTIONS>[|VAR=value...]: other environment variables of the server (e.g. MALLOC_ARENA_MAX=2).
    const [name, ...rest] = s.split('=');
    const [nodeOptions, ...vars] = rest.join('=').split('|');
    return { name: name!, nodeOptions: nodeOptions!.trim(), env: Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)])) as Record<string, string> };
  });

const log = (s: string) => console.log(s);
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
log(`adapter heap options A/B: ${sets.map((s) => `${s.name} (${s.nodeOptions || 'Node defaults'}${Object.keys(s.env).length ? ` ${JSON.stringify(s.env)}` : ''})`).join(', ')}; ${rounds} round(s), ${durationS} s per load run; load average ${load()}`);

const rows: { round: number; set: string; nodeOptions: string; runs: AdapterRun[]; load: string }[] = [];
for (let round = 1; round <= rounds; round++) {
  for (const set of round % 2 ? sets : [...sets].reverse()) {
    log(`\n#### round ${round}: ${set.name} (NODE_OPTIONS=${set.nodeOptions || '(none)'}), load average ${load()}`);
    const runs = await benchAdapter({
      variants: ['bare', 'fast'],
      policyCounts: [policies],
      rate: 1000,
      durationS,
      warmupS: 1,
      repeats: 1,
      connections: 8,
      saturationConnections: 32,
      intervalS: 5,
      // An empty NODE_OPTIONS is Node's defaults (the bench's own NODE_OPTIONS, if any, is not inherited).
      env: { NODE_OPTIONS: set.nodeOptions, ...set.env },
      log,
    });
    rows.push({ round, set: set.name, nodeOptions: set.nodeOptions, runs, load: load() });
  }
}

const out = [
  `Adapter at ${policies} ScalingPolicies, heap options alternating (${rounds} round(s), ${durationS} s per load run, 1000 req/s on 8 connections, saturation on 32).`,
  '',
  '| round | options | bare µs/req | fast µs/req | × bare CPU | fast p99 ms (bare) | fast stall ms | saturation × bare | RSS at ready MiB | RSS after load MiB (new, old space) | load average after |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];
for (const r of rows) {
  const bare = r.runs.find((x) => x.variant === 'bare')!;
  const fast = r.runs.find((x) => x.variant === 'fast')!;
  const m = fast.memory;
  out.push(
    `| ${r.round} | ${r.set} | ${bare.cpuPerRequestUs.toFixed(0)} | ${fast.cpuPerRequestUs.toFixed(0)} | ${(fast.cpuPerRequestUs / bare.cpuPerRequestUs).toFixed(2)} | ${fast.fixed.p99.toFixed(2)} (${bare.fixed.p99.toFixed(2)}) | ${fast.fixedStallMs.toFixed(0)} | ${(fast.saturation.rps / bare.saturation.rps).toFixed(2)} | ${m ? m.ready.rss.toFixed(0) : '—'} | ${fast.rssMiB.toFixed(0)}${m ? ` (${m.afterLoad.newSpace.toFixed(0)}, ${m.afterLoad.oldSpace.toFixed(0)})` : ''} | ${r.load} |`,
  );
}
const text = out.join('\n');
log(`\n${text}`);
const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const stamp = new Date().toISOString().slice(0, 16).replace(':', '-');
writeFileSync(`${dir}ab-node-options-${stamp}.md`, `${text}\n`);
log(`written: bench/results/ab-node-options-${stamp}.md`);
