// The in-cluster load source of the e2e suite: the loadgen Deployment + Service (incluster-manifests.ts) that the
// governor pods query over HTTP JSON. The suite sets the load through `kubectl exec` into the pod (POST /set on
// loopback), and stops or restarts the source by scaling the Deployment.
import type { LocalCluster } from '../harness/cluster.js';
import { waitDeploymentAvailable } from './incluster-install.js';
import { LOADGEN, loadgenManifests, setLoadScript } from './incluster-manifests.js';
import { waitFor } from './wait.js';

export class Loadgen {
  constructor(
    private readonly cluster: LocalCluster,
    readonly namespace: string,
  ) {}

  private async ok(args: string[], input?: string): Promise<string> {
    const r = await this.cluster.kubectl(['-n', this.namespace, ...args], input !== undefined ? { input } : {});
    if (r.code !== 0) throw new Error(`kubectl -n ${this.namespace} ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Applies the Deployment and Service and waits until the pod is ready (serving GET /load). */
  async deploy(initialLoad: number, o: { image?: string; timeoutMs?: number } = {}): Promise<this> {
    await this.ok(['apply', '-f', '-'], loadgenManifests(this.namespace, { initialLoad, ...(o.image ? { image: o.image } : {}) }));
    await waitDeploymentAvailable(this.cluster, this.namespace, LOADGEN.name, o.timeoutMs ?? 120_000);
    return this;
  }

  /** POST /set?v=<value> inside the pod; returns what the endpoint now serves (the answer of /set). */
  async set(value: number): Promise<number> {
    const out = await this.ok(['exec', `deploy/${LOADGEN.name}`, '--', 'node', '-e', setLoadScript(value)]);
    const served = JSON.parse(out.trim().split('\n').at(-1) ?? '{}')?.data?.rps;
    if (served !== value) throw new Error(`loadgen answered ${out.trim()} to /set?v=${value}`);
    return served;
  }

  /** Scales the source: 0 waits until no pod is left (the Service has no endpoint), 1 until the new pod is ready. */
  async scale(replicas: 0 | 1, timeoutMs = 90_000): Promise<void> {
    await this.ok(['scale', `deployment/${LOADGEN.name}`, `--replicas=${replicas}`]);
    if (replicas === 1) {
      await waitDeploymentAvailable(this.cluster, this.namespace, LOADGEN.name, timeoutMs);
      return;
    }
    await waitFor(
      `no loadgen pod left in ${this.namespace}`,
      async () => {
        const pods = (await this.ok(['get', 'pods', '-l', `app=${LOADGEN.name}`, '-o', 'jsonpath={.items[*].metadata.name}'])).trim();
        return { done: pods === '', seen: pods };
      },
      { timeoutMs, intervalMs: 500 },
    );
  }
}
