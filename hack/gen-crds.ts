// Regenerates manifests/base/crds/*.yaml from src/policy/schemas (src/policy/crd.ts); `npm run gen-crds`.
// src/policy/crd_test.ts fails when the files and the schemas drift apart.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_KINDS, crdFileName, renderCrd } from '../src/policy/crd.js';

const dir = fileURLToPath(new URL('../manifests/base/crds/', import.meta.url));
for (const k of CRD_KINDS) {
  const file = join(dir, crdFileName(k));
  writeFileSync(file, renderCrd(k));
  process.stdout.write(`wrote ${file}\n`);
}
