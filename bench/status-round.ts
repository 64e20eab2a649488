// The policy status controller's cost per round at scale (it runs on the event loop the webhook and adapter share):
// N ScalingPolicy objects, a patcher that stores what it is sent (as the informer would show it), no write limit.
//
//   node --import tsx bench/status-round.ts [N=10000] [rounds=8] [--files]
//
// --files: the same policies as file policies (no cluster objects, not the leader: metrics and logs only), the adapter
// bench's situation; a decision is recorded for every policy before the second round (the start-up evaluation) and for
// 20 of them before each later one (the polled policies' new intervals).
import { createLogger } from '../src/observability/log.js';
import { createMetrics } from '../src/observability/metrics.js';
import { compileClusterObjects } from '../src/policy/load-cluster.js';
import { PolicyStore } from '../src/policy/store.js';
import { PolicyObservations } from '../src/status/observations.js';
import { PolicyStatusController } from '../src/status/status-controller.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const FILES = process.argv.includes('--files');
const N = Number(args[0] ?? 10_000);
const ROUNDS = Math.min(Number(args[1] ?? 8), 100);
const objs: any[] = Array.from({ length: N }, (_, i) => ({
  apiVersion: 'governor.io/v1alpha1',
  kind: 'ScalingPolicy',
  metadata: { name: `p${i}`, namespace: `ns${i % 100}`, uid: `u${i}`, generation: 1 },
  spec: { target: { kind: 'Deployment', name: `w${i}` }, load: { prometheus: { query: 'q' } }, thresholds: { low: 10, high: 100 }, replicas: { min: 1, max: 10 } },
}));
const index = new Map(objs.map((o, i) => [`${o.metadata.namespace}/${o.metadata.name}`, i]));
const store = new PolicyStore();
const compiled = compileClusterObjects(objs);
// As files: the same policies with a file origin (the controller reports them without an object to write to).
const policies = FILES ? compiled.policies.map((p, i) => ({ ...p, origin: { ...p.origin, file: `policies/p-${Math.floor(i / 500)}.yaml` } })) : compiled.policies;
store.offer(policies, compiled.errors, FILES ? 'files' : 'cluster');
const observations = new PolicyObservations();
const c = new PolicyStatusController({
  store,
  observations,
  ...(FILES ? {} : { objects: { list: () => objs } }),
  patcher: {
    async patchStatus(ref, body) {
      const i = index.get(`${ref.namespace}/${ref.name}`)!;
      objs[i] = { ...objs[i], status: body.status };
    },
  },
  writesPerSecond: 1e9,
  burst: 1e9,
  isLeader: () => !FILES,
  // --files: info-level logs written to /dev/null, as the adapter bench's server (the first rounds log every policy).
  log: FILES ? createLogger({ level: 'info', destination: '/dev/null' }) : createLogger({ level: 'silent' }),
  metrics: createMetrics({ defaultMetrics: false }),
});
const scaling = store.current().scaling;
const decide = (p: (typeof scaling)[number], atMs: number) =>
  observations.recordDecision(`${p.namespace}/${p.name}`, { replicas: 3, basis: 'load', regime: 'proportional', load: 450, loadAtMs: atMs, atMs, bucket: atMs, failures: 0, stale: false, reason: 'load 450' } as never, p);
for (let r = 0; r < ROUNDS; r++) {
  if (FILES && r === 1) for (const p of scaling) decide(p, Date.now());
  if (FILES && r > 1) for (let k = 0; k < 20; k++) decide(scaling[Math.floor((k * scaling.length) / 20)]!, Date.now());
  // The longest time the round held the event loop (what a request arriving meanwhile waits): the widest gap between
  // turns of a setImmediate chain that runs beside it.
  let last = performance.now();
  let stall = 0;
  let on = true;
  const turn = () => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
    if (on) setImmediate(turn);
  };
  setImmediate(turn);
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  const o = await c.reconcile();
  const ms = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  on = false;
  await new Promise((res) => setImmediate(res));
  process.stdout.write(`round ${r}: ${ms.toFixed(0)} ms (CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms), longest stall ${stall.toFixed(0)} ms, written ${o.written}\n`);
}
process.stdout.write(`rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB\n`);
