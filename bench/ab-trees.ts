// Before/after in the same run: checks out two commits side by side and runs the same `bench/run.ts` sections in
// each, alternating rounds (A B A B …) so drift of the machine falls on both. Prints the figures of each round and
// the ratios to the bare server measured in that same round.
//
//   node --import tsx bench/ab-trees.ts --before <ref> [--after <ref>] [--rounds 2] [--keep] -- --only webhook,adapter --quick
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const own = sep >= 0 ? argv.slice(0, sep) : argv;
const benchArgs = sep >= 0 ? argv.slice(sep + 1) : ['--only', 'webhook,adapter', '--quick'];
const opt = (name: string, dflt?: string) => {
  const i = own.indexOf(name);
  return i >= 0 && own[i + 1] ? own[i + 1]! : dflt;
};
const before = opt('--before');
const after = opt('--after', 'HEAD')!;
const rounds = Math.min(4, Math.max(1, Number(opt('--rounds', '2'))));
if (!before) {
  console.error('usage: bench/ab-trees.ts --before <ref> [--after <ref>] [--rounds N] -- <bench/run.ts args>');
  process.exit(2);
}

const repo = fileURLToPath(new URL('..', import.meta.url));
const git = (...args: string[]) => {
  const r = spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
};
const root = mkdtempSync(join(tmpdir(), 'governor-ab-'));
const trees: { label: string; ref: string; commit: string; dir: string }[] = [];
for (const [label, ref] of [['before', before], ['after', after]] as const) {
  const commit = git('rev-parse', '--short', ref);
  const dir = join(root, label);
  git('worktree', 'add', '--detach', dir, commit);
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  trees.push({ label, ref, commit, dir });
}

type Round = { label: string; commit: string; round: number; result: any };
const rows: Round[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    for (const t of round % 2 ? trees : [...trees].reverse()) {
      console.log(`\n#### round ${round}: ${t.label} (${t.commit})`);
      const resDir = join(t.dir, 'bench', 'results');
      mkdirSync(resDir, { recursive: true });
      const seen = new Set(readdirSync(resDir));
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...benchArgs], { cwd: t.dir, stdio: 'inherit', timeout: 30 * 60_000 });
      if (r.status !== 0) throw new Error(`bench in ${t.label} exited ${r.status}`);
      const fresh = readdirSync(resDir).filter((f) => f.endsWith('.json') && !f.startsWith('soak') && !seen.has(f));
      // Two runs within a minute share a stamp: the newest file by name is this run's.
      const file = fresh.sort().at(-1) ?? readdirSync(resDir).filter((f) => f.endsWith('.json') && !f.startsWith('soak')).sort().at(-1)!;
      rows.push({ label: t.label, commit: t.commit, round, result: JSON.parse(readFileSync(join(resDir, file), 'utf8')) });
      rmSync(join(resDir, file));
    }
  }
} finally {
  if (!own.includes('--keep')) {
    for (const t of trees) spawnSync('git', ['-C', repo, 'worktree', 'remove', '--force', t.dir]);
    rmSync(root, { recursive: true, force: true });
  }
}

const out: string[] = [`Before ${trees[0]!.commit} (${before}), after ${trees[1]!.commit} (${after}); ${rounds} alternating round(s) of \`bench/run.ts ${benchArgs.join(' ')}\`.`, ''];
const ratio = (x: number, base: number) => (base > 0 ? (x / base).toFixed(2) : '—');
if (rows.some((r) => r.result.webhook)) {
  out.push('| round | tree | variant | saturation req/s | × bare | p99 at 1000/s ms |', '|---|---|---|---|---|---|');
  for (const r of rows) {
    const runs: any[] = r.result.webhook?.runs ?? [];
    const bare = runs.find((x) => x.variant === 'bare');
    for (const v of runs) {
      const at1000 = v.fixed?.find((f: any) => f.rate === 1000);
      out.push(`| ${r.round} | ${r.label} ${r.commit} | ${v.variant} | ${Math.round(v.saturation.rps)} | ${ratio(v.saturation.rps, bare?.saturation.rps)} | ${at1000?.p99 ?? '—'} |`);
    }
  }
  out.push('');
}
if (rows.some((r) => r.result.adapter)) {
  out.push('| round | tree | variant | policies | saturation req/s | × bare | p99 at 1000/s ms | RSS MiB | start ms |', '|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const runs: any[] = r.result.adapter ?? [];
    for (const v of runs) {
      const bare = runs.find((x) => x.variant === 'bare' && x.policies === v.policies && x.repeat === v.repeat);
      out.push(`| ${r.round} | ${r.label} ${r.commit} | ${v.variant} | ${v.policies} | ${Math.round(v.saturation.rps)} | ${ratio(v.saturation.rps, bare?.saturation.rps)} | ${v.fixed?.p99 ?? '—'} | ${v.rssMiB ?? '—'} | ${v.startMs ?? '—'} |`);
    }
  }
}
const text = out.join('\n');
console.log(`\n${text}`);
const resultsDir = join(repo, 'bench', 'results');
if (!existsSync(resultsDir)) mkdirSync(resultsDir, { recursive: true });
const stamp = new Date().toISOString().slice(0, 16).replace(':', '-');
writeFileSync(join(resultsDir, `ab-${stamp}.md`), `${text}\n`);
writeFileSync(join(resultsDir, `ab-${stamp}.json`), JSON.stringify(rows.map((r) => ({ ...r, result: { webhook: r.result.webhook, adapter: r.result.adapter } })), null, 1));
