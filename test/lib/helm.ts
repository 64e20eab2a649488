// helm for tests: the binary hack/build-helm.sh builds and caches, and the arguments that install the chart
// (charts/kube-governor) with a locally built image, e.g. in the in-cluster e2e:
//
//   run(helmBinary(), ['install', 'kube-governor', CHART_DIR, '-n', ns, '--create-namespace', '--wait',
//                      ...localImageArgs('localhost/kube-governor:test')])
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
export const CHART_DIR = join(repo, 'charts', 'kube-governor');

let cached: string | undefined;

/** $KG_HELM (hack/test.sh exports it), else hack/build-helm.sh's answer (instant once built; a cold build takes minutes). */
export function helmBinary(): string {
  if (process.env.KG_HELM) return process.env.KG_HELM;
  if (cached) return cached;
  const r = spawnSync('bash', [join(repo, 'hack', 'build-helm.sh')], { encoding: 'utf8', timeout: 1_800_000 });
  const path = /^HELM=(.+)$/m.exec(r.stdout ?? '')?.[1];
  if (r.status !== 0 || !path) throw new Error(`hack/build-helm.sh failed (exit ${r.status}):\n${r.stderr}`);
  cached = path;
  return path;
}

/** `--set` arguments for an image that is already on the nodes: repository and tag from `image`, never pulled. */
export function localImageArgs(image: string, pullPolicy: 'Never' | 'IfNotPresent' = 'Never'): string[] {
  const at = image.lastIndexOf(':');
  if (at <= image.lastIndexOf('/')) throw new Error(`image ${image} has no tag`);
  return ['--set', `image.repository=${image.slice(0, at)}`, '--set', `image.tag=${image.slice(at + 1)}`, '--set', `image.pullPolicy=${pullPolicy}`];
}
