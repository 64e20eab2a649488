// The contract each policy kind fulfils so that one parser can validate and compile every kind.
import type { PolicyOrigin } from './types.js';

/** A semantic problem found after the schema passed; path is relative to the document root. */
export interface Issue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export type CompileResult<T> = { readonly value: T; readonly issues?: undefined } | { readonly issues: readonly Issue[] };

export interface PolicyKindSpec<T> {
  readonly kind: string;
  /** JSON Schema of the whole document (refs to common.schema.json allowed); defaults are applied before compile. */
  readonly schema: object;
  /** Semantic checks and normalisation (durations to ms, quantities to numbers, regexes compiled). Never throws. */
  compile(doc: any, origin: PolicyOrigin): CompileResult<T>;
}

/** Name, namespace (default: "default") and origin, as every namespaced policy kind carries them. */
export function namespacedIdentity(doc: any, origin: PolicyOrigin): { name: string; namespace: string; origin: PolicyOrigin } {
  return { name: doc.metadata.name, namespace: doc.metadata.namespace ?? 'default', origin };
}
