// What this build is: the package version, the commit it was built from (GOVERNOR_COMMIT, a build argument of the
// image), the Node.js release it runs on. For `governor version` and the governor_build_info metric.
import { createRequire } from 'node:module';

/**
 * package.json through require, not a JSON import: it lies outside src/ (the build's rootDir), and the package root
 * is ../../ both from src/common (checkout) and from dist/common (the image, the npm package).
 */
const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export function buildInfo(): { version: string; commit?: string; node: string } {
  const commit = process.env.GOVERNOR_COMMIT?.trim();
  return { version: pkg.version, ...(commit ? { commit } : {}), node: process.version };
}
