// CEL validations against the equivalent built-in rules, same run, same object: the cost of one validation of a
// realistic Deployment by the engine (GovernanceEngine.validate, as the webhook calls it), and how long the cost
// budget lets the worst expression run before it stops. Bounded: a fixed number of reviews per variant.
//
//   node --import tsx bench/cel.ts [--reviews 20000]
import { GovernanceEngine } from '../src/governance/engine.js';
import { policy } from '../src/governance/testing.js';
import { compileCel, DEFAULT_CEL_BUDGET, DEFAULT_CEL_TIME_LIMIT_MS } from '../src/common/cel.js';
import { realisticDeployment } from '../test/integration/webhook_fixtures.js';

const argv = process.argv.slice(2);
const i = argv.indexOf('--reviews');
const REVIEWS = Math.min(200_000, Math.max(1_000, Number(i >= 0 ? argv[i + 1] : 20_000)));

const builtIn = policy(
  'built-in',
  `  match: {kinds: [Deployment]}
  labels: {owner: {required: true, pattern: '^[a-z][a-z0-9-]*$'}}
  resources: {require: [requests.cpu, limits.cpu]}
`,
);
const cel = policy(
  'cel',
  `  match: {kinds: [Deployment]}
  variables:
    - {name: containers, expression: "object.spec.template.spec.containers + (has(object.spec.template.spec.initContainers) ? object.spec.template.spec.initContainers : [])"}
  validations:
    - {name: owner, expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels"}
    - {name: owner-value, expression: "!has(object.metadata.labels) || !('owner' in object.metadata.labels) || object.metadata.labels.owner.matches('^[a-z][a-z0-9-]*$')"}
    - {name: requests, expression: "variables.containers.all(c, has(c.resources) && has(c.resources.requests) && 'cpu' in c.resources.requests)"}
    - {name: limits, expression: "variables.containers.all(c, has(c.resources) && has(c.resources.limits) && 'cpu' in c.resources.limits)"}
`,
);

const obj = realisticDeployment();
const ctx = { namespace: 'shop' };

function run(name: string, engine: GovernanceEngine): { name: string; usPerReview: number; p50: number; p99: number; denied: number } {
  for (let k = 0; k < 500; k++) engine.validate(obj, ctx);
  const times: number[] = [];
  let denied = 0;
  const t0 = performance.now();
  for (let k = 0; k < REVIEWS; k++) {
    const a = performance.now();
    if (!engine.validate(obj, ctx).decision.allowed) denied++;
    times.push(performance.now() - a);
  }
  const total = performance.now() - t0;
  times.sort((x, y) => x - y);
  const q = (p: number) => +(times[Math.floor(p * (times.length - 1))]! * 1000).toFixed(1);
  return { name, usPerReview: +((total / REVIEWS) * 1000).toFixed(1), p50: q(0.5), p99: q(0.99), denied };
}

const rows = [run('built-in rules (labels + resources)', new GovernanceEngine([builtIn])), run('the same rules as CEL validations', new GovernanceEngine([cel])), run('no policy (baseline)', new GovernanceEngine([]))];
console.log(`validate of a realistic Deployment, ${REVIEWS} reviews per variant (µs)`);
console.table(rows);

// The worst case: nested comprehensions that only the budget or the time limit stop.
const ten = '[1,2,3,4,5,6,7,8,9,10]';
const worst = compileCel(`${ten}.all(a, ${ten}.all(b, ${ten}.all(c, ${ten}.all(d, ${ten}.all(e, ${ten}.all(f, ${ten}.all(g, true)))))))`, ['object']);
const budgetOnly = [];
for (let k = 0; k < 5; k++) {
  const a = performance.now();
  const r = worst.evaluate({}, { timeLimitMs: 60_000 });
  budgetOnly.push({ ms: +(performance.now() - a).toFixed(1), stopped: 'exhausted' in r ? r.exhausted : 'no' });
}
console.log(`worst expression, budget ${DEFAULT_CEL_BUDGET} only (time limit lifted): ${budgetOnly.map((x) => `${x.ms} ms (${x.stopped})`).join(', ')}`);
const a = performance.now();
const r = worst.evaluate({});
console.log(`worst expression with the default limits (budget ${DEFAULT_CEL_BUDGET}, ${DEFAULT_CEL_TIME_LIMIT_MS} ms): stopped by ${'exhausted' in r ? r.exhausted : 'nothing'} after ${(performance.now() - a).toFixed(1)} ms`);
