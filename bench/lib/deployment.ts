// What the Deployment runs the server with, so that memory figures are those of the pod.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MANIFEST = fileURLToPath(new URL('../../manifests/base/deployment.yaml', import.meta.url));

/**
 * manifests/base/deployment.yaml: the container's NODE_OPTIONS (V8 heap limits: the young generation capped, as Node 24
 * grows it far beyond Node 20's under load). `GOVERNOR_BENCH_NODE_DEFAULTS=1` runs with Node's defaults instead, to
 * compare with figures measured before the benches applied them.
 */
export function deploymentEnv(): NodeJS.ProcessEnv {
  if (process.env.GOVERNOR_BENCH_NODE_DEFAULTS === '1') return {};
  const m = /- name: NODE_OPTIONS\n\s+value: (.+)\n/.exec(readFileSync(MANIFEST, 'utf8'));
  if (!m) throw new Error(`${MANIFEST} sets no NODE_OPTIONS`);
  return { NODE_OPTIONS: m[1]!.trim() };
}

/** The package's `bin` (package.json), what the image and `npx governor` run: the bundle `npm run build` writes. */
export const BUILT_CLI: string = fileURLToPath(
  new URL(`../../${(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { bin: { governor: string } }).bin.governor}`, import.meta.url),
);
