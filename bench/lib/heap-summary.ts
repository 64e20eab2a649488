// Sums a V8 heap snapshot's self sizes by node type and constructor (or, for strings, by their first characters), so
// two snapshots (10 and 10,000 policies, at ready and after load) show what grows per policy.
//
//   node --import tsx bench/lib/heap-summary.ts <a.heapsnapshot> [b.heapsnapshot] [--top 40]
import { readFileSync } from 'node:fs';

interface Row {
  count: number;
  bytes: number;
}

export function summariseHeap(file: string): Map<string, Row> {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const fields: string[] = snap.snapshot.meta.node_fields;
  const types: string[] = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [ti, ni, si] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const nodes: number[] = snap.nodes;
  const strings: string[] = snap.strings;
  const out = new Map<string, Row>();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + ti]!]!;
    const name = strings[nodes[i + ni]!] ?? '';
    // Strings by prefix (policy names, label hashes and JSON show up as families); code and hidden by their names.
    const key = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? `${type}: ${JSON.stringify(name.slice(0, 24))}` : `${type}: ${name.slice(0, 60)}`;
    const r = out.get(key) ?? { count: 0, bytes: 0 };
    r.count++;
    r.bytes += nodes[i + si]!;
    out.set(key, r);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const t = args.indexOf('--top');
  const top = t >= 0 ? Number(args[t + 1]) : 40;
  const files = args.filter((a, i) => !a.startsWith('--') && (t < 0 || i !== t + 1));
  const a = summariseHeap(files[0]!);
  const b = files[1] ? summariseHeap(files[1]) : undefined;
  const total = (m: Map<string, Row>) => [...m.values()].reduce((s, r) => s + r.bytes, 0);
  const mib = (x: number) => (x / 2 ** 20).toFixed(2);
  console.log(`${files[0]}: ${mib(total(a))} MiB${b ? `; ${files[1]}: ${mib(total(b))} MiB` : ''}`);
  const keys = new Set([...a.keys(), ...(b?.keys() ?? [])]);
  const rows = [...keys].map((k) => ({ k, a: a.get(k) ?? { count: 0, bytes: 0 }, b: b?.get(k) ?? { count: 0, bytes: 0 } }));
  rows.sort((x, y) => (b ? y.b.bytes - y.a.bytes - (x.b.bytes - x.a.bytes) : y.a.bytes - x.a.bytes));
  for (const r of rows.slice(0, top)) {
    console.log(b ? `${mib(r.b.bytes - r.a.bytes).padStart(8)} MiB  ${String(r.b.count - r.a.count).padStart(8)}  ${r.k}` : `${mib(r.a.bytes).padStart(8)} MiB  ${String(r.a.count).padStart(8)}  ${r.k}`);
  }
}
