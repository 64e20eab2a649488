// Several bench runs as one table (ranges over all their repeats), e.g. two full runs on a noisy shared machine:
//   node --import tsx bench/merge.ts bench/results/A.json bench/results/B.json > merged.md
import { readFileSync } from 'node:fs';
import { mergeResults, summaryTables, type BenchResults } from './lib/summary.js';

const files = process.argv.slice(2);
if (!files.length) throw new Error('usage: bench/merge.ts <results.json>...');
const all = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchResults & { machine: { commit?: string; date: string } });
console.log(`Merged runs: ${all.map((r, i) => `${files[i]} (commit ${r.machine.commit ?? '?'})`).join(', ')}. Ranges are min–max over all their repeats.\n`);
console.log(summaryTables(mergeResults(all)).join('\n'));
