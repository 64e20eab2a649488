// Regenerates src/policy/schemas/validators.generated.ts (the policy schemas as ajv standalone validators) from
// src/policy/schemas/*.schema.json (src/policy/validators-gen.ts); `npm run gen-validators`.
// src/policy/validators_test.ts fails when the file and the schemas drift apart.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderValidators, VALIDATORS_FILE } from '../src/policy/validators-gen.js';

const file = fileURLToPath(new URL(`../${VALIDATORS_FILE}`, import.meta.url));
writeFileSync(file, renderValidators());
process.stdout.write(`wrote ${file}\n`);
