// The `pattern`s of the policy schemas run on RE2 (src/common/pattern.ts), in the validators generated from them
// (src/policy/schemas/validators.generated.ts): every string of a policy document is user input, and a backtracking
// RegExp is quadratic on some of them (the quantity pattern on a long run of digits).
import { compilePattern } from '../common/pattern.js';

/** ajv's `code.regExp`: `toString` is ajv's cache key, `code` the name the generated module gives this function. */
export const schemaRegExp = Object.assign(
  (source: string) => {
    const p = compilePattern(source);
    return { test: (s: string) => p.test(s), toString: () => source };
  },
  { code: 'schemaRegExp' },
);
