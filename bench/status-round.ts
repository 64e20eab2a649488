// The policy status controller's cost per round at scale (it runs on the event loop the webhook and adapter share):
// N ScalingPolicy objects, a patcher that stores what it is sent (as the informer would show it), no write limit.
//
//   node --import tsx bench/status-round.ts [N=10000] [rounds=8]
import { createLogger } from '../src/observability/log.js';
import { createMetrics } from '../src/observability/metrics.js';
import { compileClusterObjects } from '../src/policy/load-cluster.js';
import { PolicyStore } from '../src/policy/store.js';
import { PolicyObservations } from '../src/status/observations.js';
import { PolicyStatusController } from '../src/status/status-controller.js';

const N = Number(process.argv[2] ?? 10_000);
const ROUNDS = Math.min(Number(process.argv[3] ?? 8), 100);
const objs: any[] = Array.from({ length: N }, (_, i) => ({
  apiVersion: 'governor.io/v1alpha1',
  kind: 'ScalingPolicy',
  metadata: { name: `p${i}`, namespace: `ns${i % 100}`, uid: `u${i}`, generation: 1 },
  spec: { target: { kind: 'Deployment', name: `w${i}` }, load: { prometheus: { query: 'q' } }, thresholds: { low: 10, high: 100 }, replicas: { min: 1, max: 10 } },
}));
const index = new Map(objs.map((o, i) => [`${o.metadata.namespace}/${o.metadata.name}`, i]));
const store = new PolicyStore();
const compiled = compileClusterObjects(objs);
store.offer(compiled.policies, compiled.errors, 'cluster');
const c = new PolicyStatusController({
  store,
  observations: new PolicyObservations(),
  objects: { list: () => objs },
  patcher: {
    async patchStatus(ref, body) {
      const i = index.get(`${ref.namespace}/${ref.name}`)!;
      objs[i] = { ...objs[i], status: body.status };
    },
  },
  writesPerSecond: 1e9,
  burst: 1e9,
  isLeader: () => true,
  log: createLogger({ level: 'silent' }),
  metrics: createMetrics({ defaultMetrics: false }),
});
for (let r = 0; r < ROUNDS; r++) {
  const t = performance.now();
  const o = await c.reconcile();
  process.stdout.write(`round ${r}: ${(performance.now() - t).toFixed(0)} ms, written ${o.written}\n`);
}
process.stdout.write(`rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB\n`);
