// Worst engine review time over the hostile-pattern corpus (test/hardening/hostile-corpus.ts), each case in its own
// child process killed at a time limit, so a tree whose patterns backtrack can be measured too (the "before" of
// issue 11: point --tree at a checkout of an older commit; only its engine is loaded from there).
//
//   node --import tsx bench/hostile-review.ts [--tree DIR] [--length 28] [--limit-s 30]
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOSTILE_CASES, hostileDeployment, hostilePolicyYaml, hostileValue } from '../test/hardening/hostile-corpus.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};

if (process.argv.includes('--child')) {
  const tree = arg('tree', '.');
  const { GovernanceEngine } = await import(resolve(tree, 'src/governance/engine.ts'));
  const { policiesFrom } = await import(resolve(tree, 'src/governance/testing.ts'));
  const i = Number(arg('case', '0'));
  const engine = new GovernanceEngine(policiesFrom(hostilePolicyYaml()));
  const obj = hostileDeployment(i, hostileValue(HOSTILE_CASES[i]!, Number(arg('length', '28'))));
  const started = performance.now();
  engine.review(obj, { namespace: 'tenant' });
  process.stdout.write(String(performance.now() - started));
} else {
  const tree = resolve(arg('tree', '.'));
  const length = arg('length', '28');
  const limitS = Number(arg('limit-s', '30'));
  const self = fileURLToPath(import.meta.url);
  let worst = { ms: 0, name: '', killed: false };
  for (const [i, c] of HOSTILE_CASES.entries()) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', '--tree', tree, '--case', String(i), '--length', length], { timeout: limitS * 1000, encoding: 'utf8' });
    const killed = r.signal !== null;
    const ms = killed ? limitS * 1000 : Number(r.stdout);
    console.log(`${c.name.padEnd(32)} ${killed ? `killed at ${limitS} s` : `${ms.toFixed(1)} ms`}`);
    if (ms >= worst.ms) worst = { ms, name: c.name, killed };
  }
  console.log(`\nworst review of a ${length}-character value (${tree}): ${worst.killed ? `> ${limitS} s (killed)` : `${worst.ms.toFixed(1)} ms`} (${worst.name})`);
}
