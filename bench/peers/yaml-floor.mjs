// The floor of the offline-review peer bench (bench/peers/kyverno-cli.ts): a Node process that reads every manifest
// of a directory, parses each document and writes it back out as YAML, and does nothing else. Plain JavaScript, so it
// starts like dist/cli.js does (no TypeScript loader).
//   node bench/peers/yaml-floor.mjs DIR > out.yaml
import { readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node bench/peers/yaml-floor.mjs DIR\n');
  process.exit(2);
}
let objects = 0;
for (const f of readdirSync(dir).filter((x) => /\.ya?ml$/.test(x)).sort()) {
  const out = [];
  for (const d of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
    out.push(stringify(d.toJS(), { lineWidth: 0 }));
    objects++;
  }
  writeSync(1, out.join('---\n'));
}
process.stderr.write(`${objects} objects\n`);
