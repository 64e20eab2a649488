// A stand-in for the kubelet on a cluster without a node: marks each pod of a namespace Ready some time after it
// appears, so controllers that wait for Ready pods (Deployments' readyReplicas, a migration's make-before-break) move.
import type { LocalCluster } from '../harness/cluster.js';
import { sleep } from './wait.js';

export function markPodsReady(cluster: Pick<LocalCluster, 'kubectl'>, ns: string, afterMs: number, maxMs = 180_000): { stop(): Promise<void> } {
  const seen = new Map<string, number>();
  let stopped = false;
  const until = Date.now() + maxMs;
  const loop = (async () => {
    while (!stopped && Date.now() < until) {
      const r = await cluster.kubectl(['-n', ns, 'get', 'pods', '-o', 'json']);
      if (r.code === 0) {
        for (const p of JSON.parse(r.stdout).items as { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[]) {
          const name = p.metadata.name;
          if (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
          const first = seen.get(name) ?? Date.now();
          seen.set(name, first);
          if (Date.now() - first < afterMs) continue;
          await cluster.kubectl(['-n', ns, 'patch', 'pod', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'True' }] } })]);
        }
      }
      await sleep(250);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
