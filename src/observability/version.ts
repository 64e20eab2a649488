// What this build is: the package version, the git commit when the build recorded one, and the Node.js version.
// Shared by `governor version` and the governor_build_info metric.
import { readFileSync } from 'node:fs';

export interface BuildInfo {
  /** package.json's version. */
  readonly version: string;
  /** The git commit the build was made from (dist/build-info.json, written by `npm run build`), when known. */
  readonly commit?: string;
  /** process.version, e.g. "v24.1.0". */
  readonly node: string;
}

function readJson(url: URL): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(url, 'utf8'));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

let fromFiles: { version: string; commit?: string } | undefined;

/**
 * The build's identity. The version comes from package.json (two levels up from src/observability or dist/observability); the commit
 * from build-info.json beside the compiled tree (dist/build-info.json, written by `npm run build` from $GIT_COMMIT or
 * git), else $GOVERNOR_COMMIT; absent when unknown.
 */
export function buildInfo(): BuildInfo {
  if (!fromFiles) {
    const pkg = readJson(new URL('../../package.json', import.meta.url));
    const built = readJson(new URL('../build-info.json', import.meta.url));
    fromFiles = { version: typeof pkg?.version === 'string' ? pkg.version : '0.0.0-unknown', ...(typeof built?.commit === 'string' && built.commit ? { commit: built.commit } : {}) };
  }
  const commit = fromFiles.commit ?? (process.env.GOVERNOR_COMMIT?.trim() || undefined);
  return { version: fromFiles.version, ...(commit ? { commit } : {}), node: process.version };
}
