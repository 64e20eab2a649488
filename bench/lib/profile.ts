// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by file, the top entries first.
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface ProfileLine {
  readonly name: string;
  readonly selfPct: number;
}

export function summariseProfile(file: string, top = 25): { functions: ProfileLine[]; files: ProfileLine[]; inclusive: ProfileLine[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
  const hits = new Map<number, number>();
  for (const s of p.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
  const total = p.samples.length || 1;
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const n of p.nodes) {
    const h = hits.get(n.id) ?? 0;
    if (!h) continue;
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(/^.*\/(src|bench|test)\//, '$1/');
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + h);
    const pkg = url.startsWith('node_modules/') ? url.split('/').slice(0, url.split('/')[1]!.startsWith('@') ? 3 : 2).join('/') : url || n.callFrame.functionName;
    byFile.set(pkg, (byFile.get(pkg) ?? 0) + h);
  }
  // Inclusive time of our own functions (src/): self plus everything they call, counted once per call path.
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const inclusive = new Map<string, number>();
  const total0 = (n: Node): number => (hits.get(n.id) ?? 0) + (n.children ?? []).reduce((a, c) => a + total0(byId.get(c)!), 0);
  const memo = new Map<number, number>();
  const incl = (n: Node): number => {
    let v = memo.get(n.id);
    if (v === undefined) memo.set(n.id, (v = total0(n)));
    return v;
  };
  const walk = (n: Node, seen: Set<string>) => {
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const name = `${n.callFrame.functionName || '(anonymous)'} ${url.replace(/^.*\/(src)\//, '$1/')}`;
    const own = url.includes('/src/') && !seen.has(name);
    if (own) inclusive.set(name, (inclusive.get(name) ?? 0) + incl(n));
    const next = own ? new Set([...seen, name]) : seen;
    for (const c of n.children ?? []) walk(byId.get(c)!, next);
  };
  if (p.nodes[0]) walk(p.nodes[0], new Set());
  const sorted = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, h]) => ({ name, selfPct: Math.round((h / total) * 1000) / 10 }));
  return { functions: sorted(byFn), files: sorted(byFile), inclusive: sorted(inclusive) };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const s = summariseProfile(process.argv[2]!, Number(process.argv[3] ?? 30));
  console.log('self time by function:');
  for (const l of s.functions) console.log(`${String(l.selfPct).padStart(6)}%  ${l.name}`);
  console.log('\nself time by file/package:');
  for (const l of s.files) console.log(`${String(l.selfPct).padStart(6)}%  ${l.name}`);
  console.log('\ninclusive time of src/ functions:');
  for (const l of s.inclusive) console.log(`${String(l.selfPct).padStart(6)}%  ${l.name}`);
}
