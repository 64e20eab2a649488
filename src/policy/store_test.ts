import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePolicyText, type AnyPolicy } from './parse.js';
import { PolicyStore } from './store.js';
import { formatPolicyError, type PolicyError, type ScalingPolicy } from './types.js';
import { compileClusterObjects } from './load-cluster.js';

/** A ScalingPolicy document; `high` tells versions apart, `target` defaults to the policy's name. */
const scaling = (name: string, o: { high?: number; low?: number; target?: string; ns?: string } = {}) => `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: ${name}, namespace: ${o.ns ?? 'shop'}}
spec:
  target: {kind: Deployment, name: ${o.target ?? name}}
  load: {prometheus: {query: up}}
  thresholds: {low: ${o.low ?? 100}, high: ${o.high ?? 300}}
  replicas: {max: 5}
`;
const migration = (name: string, ref: string) => `apiVersion: governor.io/v1alpha1
kind: MigrationPolicy
metadata: {name: ${name}, namespace: shop}
spec:
  source: {kind: Deployment, name: old}
  target: {kind: Deployment, name: new, minReplicas: 1}
  load: {prometheus: {query: up}}
  thresholds: {low: 100, high: 300}
  capacity: {scalingPolicy: ${ref}}
`;
const governance = (name: string, mode = 'audit') => `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: ${name}}
spec: {mode: ${mode}}
`;

/** Parses files (name → text) as the file loader does and offers them as one candidate. */
function offerFiles(store: PolicyStore, files: Record<string, string>, source = 'files') {
  const policies: AnyPolicy[] = [];
  const errors: PolicyError[] = [];
  for (const [file, text] of Object.entries(files)) {
    const r = parsePolicyText(text, file);
    policies.push(...r.policies);
    errors.push(...r.errors);
  }
  return store.offer(policies, errors, source);
}

const inForce = (store: PolicyStore) =>
  Object.fromEntries(store.current().scaling.map((p) => [p.name, p.thresholds.high])) as Record<string, number>;

test('a fresh store loads every valid document beside a file with a typo, and names file, line and path', () => {
  const store = new PolicyStore();
  const out = offerFiles(store, {
    'policies/good.yaml': scaling('checkout') + '---\n' + governance('defaults'),
    'policies/x.yaml': scaling('typo').replace('thresholds:', 'treshholds:'),
  });
  assert.equal(out.applied, false);
  assert.deepEqual(inForce(store), { checkout: 300 });
  assert.equal(store.current().governance.length, 1);
  const typo = out.errors.find((e) => e.path === 'spec.treshholds')!;
  assert.equal(typo.file, 'policies/x.yaml');
  assert.equal(typo.line, 7);
  assert.match(formatPolicyError(typo), /^policies\/x\.yaml:7:\d+ \(document 1, ScalingPolicy\/shop\/typo\): spec\.treshholds: is not a known field/);
});

test('an invalid new version keeps the last good version of that policy (kind/namespace/name), even from another file', () => {
  const store = new PolicyStore();
  offerFiles(store, { 'a.yaml': scaling('checkout', { high: 400 }) + '---\n' + scaling('cart') });
  const out = offerFiles(store, { 'b.yaml': scaling('checkout', { low: 900, high: 500 }), 'a.yaml': scaling('cart', { high: 350 }) });
  assert.deepEqual(out.kept, ['ScalingPolicy/shop/checkout']);
  assert.deepEqual(inForce(store), { cart: 350, checkout: 400 });
  assert.equal(out.errors.length, 1);
  assert.equal(out.errors[0]!.path, 'spec.thresholds.high');
  // fixed: the new version replaces the kept one
  const fixed = offerFiles(store, { 'b.yaml': scaling('checkout', { high: 500 }), 'a.yaml': scaling('cart', { high: 350 }) });
  assert.equal(fixed.applied, true);
  assert.deepEqual(fixed.kept, []);
  assert.deepEqual(inForce(store), { cart: 350, checkout: 500 });
  // a policy that was never valid has nothing to keep
  const fresh = offerFiles(store, { 'b.yaml': scaling('checkout', { high: 500 }), 'c.yaml': scaling('new', { low: 900, high: 1 }) });
  assert.deepEqual(fresh.kept, []);
  assert.deepEqual(inForce(store), { checkout: 500 });
});

test('a document that names no policy (syntax error, unknown kind, unreadable file) keeps what its file gave; a deleted file drops its policies', () => {
  const store = new PolicyStore();
  offerFiles(store, { 'a.yaml': scaling('one') + '---\n' + scaling('two'), 'b.yaml': scaling('three') });
  const broken = offerFiles(store, { 'a.yaml': scaling('one', { high: 444 }) + '---\nmetadata: {name: two\n', 'b.yaml': scaling('three') });
  assert.deepEqual(inForce(store), { one: 444, three: 300, two: 300 });
  assert.deepEqual(broken.kept, ['ScalingPolicy/shop/two']);
  assert.match(broken.errors[0]!.message, /^YAML syntax/);
  assert.equal(broken.errors[0]!.line, 11);
  // unknown kind
  offerFiles(store, { 'a.yaml': scaling('one').replace('kind: ScalingPolicy', 'kind: ScalingPolicee'), 'b.yaml': scaling('three') });
  assert.deepEqual(inForce(store), { one: 444, three: 300, two: 300 });
  // an unreadable file or directory, as the file loader reports it
  const unreadable = store.offer(parsePolicyText(scaling('three'), 'b.yaml').policies, [{ file: 'a.yaml', path: '', message: 'cannot read: EACCES' }]);
  assert.deepEqual([...unreadable.kept].sort(), ['ScalingPolicy/shop/one', 'ScalingPolicy/shop/two']);
  store.offer([], [{ file: 'policies', path: '', message: 'cannot list: ENOENT' }]);
  assert.deepEqual(inForce(store), {}, 'files outside the unreadable directory are not kept');
  offerFiles(store, { 'policies/p.yaml': scaling('p') });
  store.offer([], [{ file: 'policies', path: '', message: 'cannot list: EIO' }]);
  assert.deepEqual(inForce(store), { p: 300 }, 'files under the unreadable directory are kept');
  // deleting the file (no error) removes its policies
  offerFiles(store, {});
  assert.deepEqual(inForce(store), {});
});

test('a duplicate never displaces the policy in force; only the newcomer is left out', () => {
  const store = new PolicyStore();
  offerFiles(store, { 'z.yaml': scaling('checkout', { high: 400 }) });
  // a.yaml sorts first, but z.yaml's policy is the one enforcing today
  const out = offerFiles(store, { 'a.yaml': scaling('checkout', { high: 999 }) + '---\n' + scaling('other'), 'z.yaml': scaling('checkout', { high: 400 }) });
  assert.deepEqual(inForce(store), { checkout: 400, other: 300 });
  assert.equal(out.errors.length, 1);
  assert.equal(out.errors[0]!.file, 'a.yaml');
  assert.match(out.errors[0]!.message, /duplicate policy name: already defined in z\.yaml/);
  // on a fresh store the first in order wins
  const fresh = new PolicyStore();
  offerFiles(fresh, { 'a.yaml': scaling('checkout', { high: 999 }), 'z.yaml': scaling('checkout', { high: 400 }) });
  assert.deepEqual(inForce(fresh), { checkout: 999 });
});

test('one target per workload: a second policy for a scaled workload is left out, and a changed policy that now clashes keeps its previous version', () => {
  const store = new PolicyStore();
  offerFiles(store, { 'a.yaml': scaling('web') + '---\n' + scaling('api') });
  const clash = offerFiles(store, { 'a.yaml': scaling('web') + '---\n' + scaling('api'), 'b.yaml': scaling('web2', { target: 'web' }) });
  assert.deepEqual(Object.keys(inForce(store)).sort(), ['api', 'web']);
  assert.match(clash.errors[0]!.message, /Deployment shop\/web is already scaled by ScalingPolicy\/shop\/web/);
  // api's new version targets web too: its version in force (targeting api) stays
  const moved = offerFiles(store, { 'a.yaml': scaling('web') + '---\n' + scaling('api', { target: 'web', high: 777 }) });
  assert.deepEqual(moved.kept, ['ScalingPolicy/shop/api']);
  const api = store.current().scaling.find((p) => p.name === 'api') as ScalingPolicy;
  assert.equal(api.target.name, 'api');
  assert.equal(api.thresholds.high, 300);
  assert.equal(moved.errors.length, 1);
  assert.equal(moved.errors[0]!.path, 'spec.target');
});

test('a migration whose ScalingPolicy is missing is left out alone; the rest of the set stays', () => {
  const store = new PolicyStore();
  const out = offerFiles(store, { 'm.yaml': migration('move', 'nope') + '---\n' + migration('ok', 'web'), 's.yaml': scaling('web'), 'g.yaml': governance('g') });
  assert.deepEqual(store.current().migration.map((m) => m.name), ['ok']);
  assert.equal(store.current().scaling.length, 1);
  assert.equal(store.current().governance.length, 1);
  assert.equal(out.errors.length, 1);
  assert.equal(out.errors[0]!.path, 'spec.capacity.scalingPolicy');
  // the ScalingPolicy it needs turns invalid: its last good version stays, and so does the migration
  offerFiles(store, { 'm.yaml': migration('ok', 'web'), 's.yaml': scaling('web', { low: 900, high: 1 }) });
  assert.deepEqual(store.current().migration.map((m) => m.name), ['ok']);
  assert.equal(store.current().scaling.length, 1);
});

test('errors, the last clean read and the cluster source are kept per source', () => {
  let now = 1_000_000;
  const store = new PolicyStore(() => now);
  offerFiles(store, { 'g.yaml': governance('defaults') });
  const object = (name: string, high: number) => ({
    apiVersion: 'governor.io/v1alpha1',
    kind: 'ScalingPolicy',
    metadata: { name, namespace: 'shop', uid: 'u' },
    spec: { target: { kind: 'Deployment', name }, load: { prometheus: { query: 'up' } }, thresholds: { low: 100, high }, replicas: { max: 5 } },
  });
  const good = compileClusterObjects([object('a', 400)]);
  store.offer(good.policies, good.errors, 'cluster');
  now += 5_000;
  const bad = compileClusterObjects([object('a', 50), object('b', 600)]);
  const out = store.offer(bad.policies, bad.errors, 'cluster');
  assert.deepEqual(out.kept, ['ScalingPolicy/shop/a']);
  assert.deepEqual(inForce(store), { a: 400, b: 600 });
  assert.equal(store.current().governance.length, 1);
  const states = Object.fromEntries(store.sources().map((s) => [s.source, s]));
  assert.equal(states.files!.errors.length, 0);
  assert.equal(states.files!.lastSuccessMs, 1_000_000);
  assert.equal(states.cluster!.errors.length, 1);
  assert.equal(states.cluster!.errors[0]!.file, 'cluster:ScalingPolicy/shop/a');
  assert.equal(states.cluster!.lastSuccessMs, 1_000_000, 'the read with an invalid object is not a success');
  // a clash between sources is the newcomer's source's error
  const dup = compileClusterObjects([object('b', 600)]);
  offerFiles(store, { 'g.yaml': governance('defaults'), 's.yaml': scaling('b', { high: 111 }) });
  store.offer(dup.policies, dup.errors, 'cluster');
  const after = Object.fromEntries(store.sources().map((s) => [s.source, s.errors.map((e) => e.message)]));
  assert.equal(inForce(store).b, 600, 'the cluster version was in force first');
  assert.match(after.files![0]!, /duplicate policy name/);
  assert.deepEqual(after.cluster, []);
});

// ---------------------------------------------------------------- property: every valid document is always in force

const NAMES = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];
const fileOf = (name: string) => `f${Number(name.slice(1)) % 3}.yaml`;
type DocState = { kind: 'absent' } | { kind: 'good'; high: number } | { kind: 'invalid'; high: number } | { kind: 'syntax' };
const docState: fc.Arbitrary<DocState> = fc.oneof(
  fc.constant({ kind: 'absent' } as DocState),
  fc.integer({ min: 101, max: 999 }).map((high) => ({ kind: 'good', high }) as DocState),
  fc.integer({ min: 101, max: 999 }).map((high) => ({ kind: 'invalid', high }) as DocState),
  fc.constant({ kind: 'syntax' } as DocState),
);

test('property: across random reloads of good, invalid and broken documents, every valid one is in force and every invalid one keeps its last good version', () => {
  fc.assert(
    fc.property(fc.array(fc.array(docState, { minLength: NAMES.length, maxLength: NAMES.length }), { minLength: 1, maxLength: 12 }), (steps) => {
      const store = new PolicyStore();
      let model: Record<string, number> = {};
      for (const step of steps) {
        const files: Record<string, string[]> = { 'f0.yaml': [], 'f1.yaml': [], 'f2.yaml': [] };
        const brokenFiles = new Set<string>();
        NAMES.forEach((name, i) => {
          const s = step[i]!;
          if (s.kind === 'good') files[fileOf(name)]!.push(scaling(name, { high: s.high }));
          if (s.kind === 'invalid') files[fileOf(name)]!.push(scaling(name, { high: s.high }).replace('replicas: {max: 5}', 'replicas: {max: 5, maxx: 6}'));
          if (s.kind === 'syntax') {
            files[fileOf(name)]!.push(`kind: ScalingPolicy\nmetadata: {name: ${name}\n`);
            brokenFiles.add(fileOf(name));
          }
        });
        offerFiles(store, Object.fromEntries(Object.entries(files).map(([f, docs]) => [f, docs.join('---\n')])));
        const next: Record<string, number> = {};
        NAMES.forEach((name, i) => {
          const s = step[i]!;
          const keep = s.kind === 'invalid' || s.kind === 'syntax' || (s.kind === 'absent' && brokenFiles.has(fileOf(name)));
          if (s.kind === 'good') next[name] = s.high;
          else if (keep && model[name] !== undefined) next[name] = model[name]!;
        });
        model = next;
        assert.deepEqual(inForce(store), model);
        // errors name every invalid document and nothing else
        const invalid = step.filter((s) => s.kind === 'invalid' || s.kind === 'syntax').length;
        assert.equal(new Set(store.lastErrors().map((e) => `${e.file}#${e.document}`)).size, invalid);
      }
    }),
    { numRuns: 100 },
  );
});

test('bounded: 10,000 policies in force, then 5,000 of them invalid and 5,000 broken documents, reloads in linear time', () => {
  const store = new PolicyStore();
  const N = 10_000;
  const good = Array.from({ length: N }, (_, i) => ({
    kind: 'ScalingPolicy' as const,
    name: `p${i}`,
    namespace: `ns${i % 100}`,
    origin: { file: `cluster:ScalingPolicy/ns${i % 100}/p${i}`, document: 1 },
    target: { apiVersion: 'apps/v1', kind: 'Deployment', name: `p${i}` },
  })) as unknown as AnyPolicy[];
  let t = performance.now();
  store.offer(good, [], 'cluster');
  const first = performance.now() - t;
  const errors: PolicyError[] = [];
  for (let i = 0; i < N / 2; i++) errors.push({ file: `cluster:ScalingPolicy/ns${i % 100}/p${i}`, document: 1, policy: `ScalingPolicy/ns${i % 100}/p${i}`, path: 'spec', message: 'bad' });
  for (let i = 0; i < N / 2; i++) errors.push({ file: `other-${i}.yaml`, document: 1, path: '', message: 'YAML syntax: x' });
  t = performance.now();
  const out = store.offer(good.slice(N / 2), errors, 'cluster');
  const second = performance.now() - t;
  assert.equal(out.kept.length, N / 2);
  assert.equal(store.current().scaling.length, N);
  // Linear: tens of ms on an idle machine; the bound is loose for shared CI, far below a quadratic keep (1e8 steps).
  assert.ok(first < 5000 && second < 5000, `offer took ${first.toFixed(0)} ms and ${second.toFixed(0)} ms`);
});

test('property: across random reloads with clashing names and targets, the set in force never has two policies for one name or workload, and every claimed workload stays scaled', () => {
  type Spec = { name: number; target: number; file: number; v: number };
  const spec = fc.record({ name: fc.integer({ min: 0, max: 5 }), target: fc.integer({ min: 0, max: 4 }), file: fc.integer({ min: 0, max: 2 }), v: fc.integer({ min: 0, max: 3 }) });
  const compiled = (s: Spec, i: number) =>
    ({
      kind: 'ScalingPolicy',
      name: `p${s.name}`,
      namespace: 'shop',
      origin: { file: `f${s.file}.yaml`, document: i + 1 },
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: `w${s.target}` },
      thresholds: { low: 100, high: 200 + s.v },
    }) as unknown as ScalingPolicy;
  fc.assert(
    fc.property(fc.array(fc.array(spec, { maxLength: 8 }), { minLength: 1, maxLength: 8 }), (steps) => {
      const store = new PolicyStore();
      let previous: readonly ScalingPolicy[] = [];
      for (const step of steps) {
        // Names unique within a candidate (duplicates have their own test): any workload may be claimed twice.
        const candidate = step.filter((s, i) => step.findIndex((o) => o.name === s.name) === i).map(compiled);
        store.offer(candidate, []);
        const now = store.current().scaling;
        assert.equal(new Set(now.map((p) => p.name)).size, now.length, 'one policy per name');
        assert.equal(new Set(now.map((p) => p.target.name)).size, now.length, 'one policy per workload');
        for (const t of new Set(candidate.map((p) => p.target.name))) assert.ok(now.some((p) => p.target.name === t), `${t} is claimed but not scaled`);
        for (const p of now) assert.ok(candidate.includes(p) || previous.includes(p), `${p.name} is neither offered nor the version in force`);
        previous = now;
      }
    }),
    { numRuns: 200 },
  );
});
