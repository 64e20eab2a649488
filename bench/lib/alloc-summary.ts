// Sums a sampling heap profile (.heapprofile, from KG_BENCH_ALLOC_DIR in bench/adapter.ts) by allocating function:
// self bytes (allocated right there) and, with --stacks, the three frames above each of the top sites.
//
//   node --import tsx bench/lib/alloc-summary.ts <file.heapprofile> [--top 25] [--stacks]
import { readFileSync } from 'node:fs';

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface HeapNode {
  callFrame: Frame;
  selfSize: number;
  children: HeapNode[];
}

export function summariseAllocations(file: string, top = 25): { total: number; sites: { site: string; bytes: number; pct: number; stack: string[] }[] } {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const bySite = new Map<string, { bytes: number; stack: string[] }>();
  let total = 0;
  const name = (f: Frame) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(src|node_modules|bench)\//, '$1/')}:${f.lineNumber + 1}`;
  // Iterative walk: deep stacks must not overflow this process's own stack.
  const todo: { node: HeapNode; path: string[] }[] = [{ node: head, path: [] }];
  while (todo.length) {
    const { node, path } = todo.pop()!;
    const here = [...path.slice(-3), name(node.callFrame)];
    if (node.selfSize) {
      total += node.selfSize;
      const key = here.at(-1)!;
      const e = bySite.get(key) ?? { bytes: 0, stack: here.slice(0, -1) };
      e.bytes += node.selfSize;
      bySite.set(key, e);
    }
    for (const c of node.children) todo.push({ node: c, path: here });
  }
  const sites = [...bySite.entries()]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, top)
    .map(([site, e]) => ({ site, bytes: e.bytes, pct: Math.round((1000 * e.bytes) / Math.max(1, total)) / 10, stack: e.stack }));
  return { total, sites };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const i = process.argv.indexOf('--top');
  const top = i > 0 ? Number(process.argv[i + 1]) : 25;
  if (!file) {
    console.error('usage: bench/lib/alloc-summary.ts <file.heapprofile> [--top N] [--stacks]');
    process.exit(2);
  }
  const s = summariseAllocations(file, top);
  console.log(`${(s.total / 2 ** 20).toFixed(1)} MiB sampled`);
  for (const x of s.sites) {
    console.log(`${x.pct.toFixed(1).padStart(5)} %  ${(x.bytes / 1024).toFixed(0).padStart(8)} KiB  ${x.site}`);
    if (process.argv.includes('--stacks')) for (const f of x.stack.reverse()) console.log(`                         ← ${f}`);
  }
}
