// A/B of the admission handlers in one process: two checkouts' handler chains (sample policies, realistic Deployment)
// alternate in batches of 2,000 requests, so the machine's load weighs on both alike; CPU time per request.
// "allowed": /mutate then /validate of the compliant Deployment; "denied": /validate with one limit over the max;
// both from the request text to the answer's text and byte count, metrics on, as the HTTP layer does it;
// "denied, handler only": the same without JSON parsing and encoding (the engine and the handler's answer);
// "denied as benched, logged": the denied workload of bench/webhook.ts (no owner label, 8 CPUs: three violations and a
// warning), /mutate then /validate, with the denial logged at info to /dev/null as the bench's server does.
// Usage: node --import tsx bench/ab-review.ts <checkout A> <checkout B> [namespace=shop]   (AB_ONLY=denied,allowed: some)
import { resolve } from 'node:path';

const ns = process.argv[4] ?? 'shop';

async function load(root: string) {
  const fx = await import(`${root}/test/integration/webhook_fixtures.ts`);
  const h = await import(`${root}/src/admission/handlers.ts`);
  const { silentLogger } = await import(`${root}/src/observability/log.ts`);
  const { noopEventRecorder } = await import(`${root}/src/kube/events.ts`);
  const engine = fx.sampleEngine();
  const { createMetrics } = await import(`${root}/src/observability/metrics.ts`);
  // The answer's text and length as src/admission/http.ts writes it; checkouts from before src/wire (49cd41d and
  // older) kept the splice in src/admission/review.ts and measured the length inline.
  const wire = await import(`${root}/src/wire/admission-review.ts`).catch(() => undefined);
  const answer: (review: unknown) => number = wire
    ? ((text) => (review: unknown) => text.textBody(wire.admissionReviewText(review)).bytes)(await import(`${root}/src/wire/text.ts`))
    : ((old) => (review: unknown) => Buffer.byteLength(old.admissionReviewText(review)))(await import(`${root}/src/admission/review.ts`));
  const env = { engine: () => engine, namespaces: fx.sampleNamespaces(), events: noopEventRecorder, log: silentLogger, metrics: createMetrics({ defaultMetrics: false }) };
  const mutate = h.reviewFunction('mutate', h.mutateHandler(env), env);
  const validate = h.reviewFunction('validate', h.validateHandler(env), env);
  const dep = fx.realisticDeployment(ns);
  const mutated = engine.mutate(dep, { namespace: ns, namespaceInfo: fx.sampleNamespaces().get(ns) }).mutated;
  const denied = structuredClone(mutated);
  denied.spec.template.spec.containers[0].resources.limits.cpu = '64';
  const text = (uid: string, object: unknown) => JSON.stringify(fx.admissionReview({ uid, kind: 'Deployment', namespace: ns, name: 'checkout', object }));
  const [mt, vt, dt] = [text('m', dep), text('v', mutated), text('d', denied)];
  // The bench's denied workload (bench/webhook.ts deniedDeployment), logged as in production.
  const { createLogger } = await import(`${root}/src/observability/log.ts`);
  const loggedEnv = { ...env, log: createLogger({ level: 'info', destination: '/dev/null' }) };
  const loggedMutate = h.reviewFunction('mutate', h.mutateHandler(loggedEnv), loggedEnv);
  const loggedValidate = h.reviewFunction('validate', h.validateHandler(loggedEnv), loggedEnv);
  const benchDenied = fx.realisticDeployment(ns);
  delete benchDenied.metadata.labels.owner;
  benchDenied.spec.template.spec.containers[0].resources = { requests: { cpu: '500m' }, limits: { cpu: '8' } };
  const benchDeniedMutated = engine.mutate(structuredClone(benchDenied), { namespace: ns, namespaceInfo: fx.sampleNamespaces().get(ns) }).mutated;
  const [bmt, bvt] = [text('bm', benchDenied), text('bv', benchDeniedMutated)];
  const check = `${validate(JSON.parse(vt)).response.allowed}/${validate(JSON.parse(dt)).response.allowed}/${validate(JSON.parse(bvt)).response.allowed}`;
  const handler = h.validateHandler(env);
  const request = JSON.parse(dt).request;
  request.object = denied;
  const run = (n: number, which: string) => {
    for (let i = 0; i < n; i++) {
      if (which === 'denied, handler only') handler(request);
      else if (which === 'denied as benched, logged') {
        answer(loggedMutate(JSON.parse(bmt)));
        answer(loggedValidate(JSON.parse(bvt)));
      } else if (which === 'allowed') {
        answer(mutate(JSON.parse(mt)));
        answer(validate(JSON.parse(vt)));
      } else answer(validate(JSON.parse(dt)));
    }
  };
  return { name: root, check, run };
}

const a = await load(resolve(process.argv[2]!));
const b = await load(resolve(process.argv[3]!));
console.log(`allowed/denied: ${a.name} ${a.check}, ${b.name} ${b.check}`);
const which_ = (process.env.AB_ONLY ?? 'allowed,denied,denied, handler only,denied as benched, logged').split(/,(?! )/);
for (const which of which_) {
  const times = new Map<string, number[]>([[a.name, []], [b.name, []]]);
  for (let r = 0; r < 40; r++) {
    for (const x of r % 2 ? [a, b] : [b, a]) {
      const c0 = process.cpuUsage();
      x.run(2000, which);
      const c = process.cpuUsage(c0);
      times.get(x.name)!.push((c.user + c.system) / 2000);
      // The log writer writes between batches, as a server's event loop lets it.
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  for (const [name, t] of times) {
    t.sort((p, q) => p - q);
    console.log(`${which} ${name}: CPU µs/request p25 ${t[10]!.toFixed(1)}, median ${t[20]!.toFixed(1)}`);
  }
}
