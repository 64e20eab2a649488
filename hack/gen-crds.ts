// Regenerates manifests/base/crds/*.yaml and the chart's copies (charts/kube-governor/files/crds) from src/policy/schemas
// (src/policy/crd.ts); `npm run gen-crds`.
// src/policy/crd_test.ts fails when the files and the schemas drift apart.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_KINDS, crdFileName, renderCrd } from '../src/policy/crd.js';

const dirs = ['../manifests/base/crds/', '../charts/kube-governor/files/crds/'].map((d) => fileURLToPath(new URL(d, import.meta.url)));
for (const k of CRD_KINDS) {
  for (const dir of dirs) {
    const file = join(dir, crdFileName(k));
    writeFileSync(file, renderCrd(k));
    process.stdout.write(`wrote ${file}\n`);
  }
}
