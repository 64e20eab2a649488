// The engines a policy `pattern` could run on, in one run: JavaScript's RegExp (the baseline: backtracking), re2js
// alone, compilePattern (src/common/pattern.ts: re2js behind a memo of recent short values) and, when it is
// installed, the native `re2` binding (not a dependency: point RE2_MODULE at a scratch install). Compile time, short kebab-case values, 256 KiB values, and the issue-11 pattern
// on a hostile value. Bounded: fixed iteration counts; RegExp runs the hostile case once, at 24 characters.
//
//   node --import tsx bench/regex.ts
//   RE2_MODULE=/tmp/re2-scratch/node_modules/re2 node --import tsx bench/regex.ts
import { createRequire } from 'node:module';
import { RE2JS } from 're2js';
import { compilePattern } from '../src/common/pattern.js';
import { HOSTILE_CASES, hostileValue } from '../test/hardening/hostile-corpus.js';

interface Engine {
  readonly name: string;
  compile(source: string): { test(s: string): boolean };
}

const engines: Engine[] = [
  { name: 'RegExp', compile: (s) => new RegExp(s) },
  { name: 're2js', compile: (s) => RE2JS.compile(RE2JS.translateRegExp(s)) },
  { name: 'compilePattern (re2js + memo)', compile: compilePattern },
];
try {
  const RE2 = createRequire(import.meta.url)(process.env.RE2_MODULE ?? 're2') as new (s: string) => { test(s: string): boolean };
  engines.push({ name: 're2 (native)', compile: (s) => new RE2(s) });
} catch {
  console.log('native re2 not installed (set RE2_MODULE to a scratch install to include it)\n');
}

/** The sample policies' patterns (policies/governance) and the issue-11 one. */
const PATTERNS = ['^[a-z][a-z0-9-]*$', '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', '^CC-[0-9]{4}$', '^([a-z0-9]+-?)*$'];
const SHORT = ['team-a', 'payments', 'checkout-eu-west-1', 'CC-1001', 'Not-Valid!', 'a'];

function perOp(n: number, f: () => void): number {
  for (let i = 0; i < Math.min(n, 1000); i++) f(); // warm-up
  const started = performance.now();
  for (let i = 0; i < n; i++) f();
  return ((performance.now() - started) * 1000) / n; // µs
}

const fmt = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(2)} µs`);
const rows: string[][] = [];

for (const e of engines) {
  const compileUs = perOp(2000, () => {
    for (const p of PATTERNS) e.compile(p);
  }) / PATTERNS.length;
  const compiled = PATTERNS.slice(0, 3).map((p) => e.compile(p));
  const shortUs = perOp(200_000, () => {
    for (const r of compiled) for (const v of SHORT) r.test(v);
  }) / (compiled.length * SHORT.length);
  const big = `${'a'.repeat(256 * 1024 - 1)}b`;
  const bigUs = perOp(50, () => {
    for (const r of compiled.slice(0, 2)) r.test(big);
  }) / 2;
  const kebab = e.compile(HOSTILE_CASES[0]!.pattern);
  const hostile = (n: number) => hostileValue(HOSTILE_CASES[0]!, n);
  let hostileText: string;
  if (e.name === 'RegExp') {
    const started = performance.now();
    kebab.test(hostile(24));
    hostileText = `${fmt((performance.now() - started) * 1000)} at 24 characters (doubles per character)`;
  } else {
    const v = hostile(256 * 1024);
    hostileText = `${fmt(perOp(20, () => kebab.test(v)))} at 256 KiB`;
  }
  rows.push([e.name, fmt(compileUs), fmt(shortUs), fmt(bigUs), hostileText]);
}

const header = ['engine', 'compile (per pattern)', 'test, short value', 'test, 256 KiB value', `${HOSTILE_CASES[0]!.pattern}, hostile value`];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
console.log(`\nnode ${process.version}, ${process.arch}`);
