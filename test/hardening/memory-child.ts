// Run by memory_test.ts with --expose-gc: repeated batches of good and bad requests against both listeners, heap after
// a full GC printed after each batch as JSON.
import { MAX_BODY_BYTES } from '../../src/admission/http.js';
import { admissionReview, realisticDeployment } from '../integration/webhook_fixtures.js';
import { adapterListener, serve, VALUES, webhookListener } from './helpers.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const webhook = await serve(webhookListener());
const adapter = await serve(adapterListener());
const review = JSON.stringify(admissionReview({ kind: 'Deployment', namespace: 'shop', name: 'checkout', object: realisticDeployment() }));
const user = { 'x-test-user': 'system:kube-aggregator' };
const big = JSON.stringify({ pad: 'x'.repeat(MAX_BODY_BYTES / 3) });
const cases: (() => Promise<unknown>)[] = [
  () => webhook.send({ method: 'POST', path: '/mutate', body: review }),
  () => webhook.send({ method: 'POST', path: '/validate', body: review }),
  () => webhook.send({ method: 'POST', path: '/mutate', body: review.slice(0, 700) }),
  () => webhook.send({ method: 'POST', path: '/validate', body: '{"apiVersion": 1}' }),
  () => webhook.send({ method: 'POST', path: '/mutate', body: big }),
  () => webhook.send({ path: '/nope' }),
  () => adapter.send({ path: `${VALUES}/shop/desired-replicas?labelSelector=governor.io%2Fpolicy%3Dcheckout`, headers: user }),
  () => adapter.send({ path: `${VALUES}/shop/desired-replicas?labelSelector=a%20in%20(b`, headers: user }),
  () => adapter.send({ path: `${VALUES}/down/desired-replicas`, headers: user }),
  () => adapter.send({ path: `${VALUES}/shop/desired-replicas` }),
  () => adapter.send({ path: `${VALUES}/shop/..%2F..%2Fetc` , headers: user }),
];
const heaps: number[] = [];
const batches = Number(process.argv[2] ?? 6);
const perBatch = Number(process.argv[3] ?? 440);
for (let b = 0; b < batches; b++) {
  for (let i = 0; i < perBatch; i++) await cases[i % cases.length]!();
  gc();
  gc();
  heaps.push(process.memoryUsage().heapUsed);
}
await webhook.close();
await adapter.close();
process.stdout.write(`${JSON.stringify({ heaps })}\n`);
