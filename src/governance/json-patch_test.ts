import { test } from 'node:test';
import assert from 'node:assert/strict';
import jsonpatch from 'fast-json-patch';
import { getIn, PatchRecorder } from './json-patch.js';

test('adds only where absent, creates missing maps in one op, and the patch applies with fast-json-patch', () => {
  const doc = { metadata: { name: 'a', labels: { keep: 'me' } }, spec: { containers: [{ name: 'c' }] } };
  const rec = new PatchRecorder(structuredClone(doc));
  assert.equal(rec.addIfAbsent(['metadata', 'labels', 'keep'], 'other'), false, 'never overwrites');
  assert.equal(rec.addIfAbsent(['metadata', 'labels', 'a/b~c'], 'v'), true);
  assert.equal(rec.addIfAbsent(['metadata', 'annotations', 'x'], '1'), true);
  assert.equal(rec.addIfAbsent(['metadata', 'annotations', 'y'], '2'), true, 'extends the map created above');
  assert.equal(rec.addIfAbsent(['spec', 'containers', 0, 'resources', 'requests', 'cpu'], '100m'), true);
  assert.equal(rec.addIfAbsent(['spec', 'containers', 0, 'resources', 'limits', 'memory'], '1Gi'), true);
  assert.equal(rec.addIfAbsent(['spec', 'containers', 1, 'resources'], {}), false, 'array elements are never created');
  assert.equal(rec.addIfAbsent(['spec', 'initContainers', 0, 'resources'], {}), false, 'arrays are never created');
  assert.equal(rec.addIfAbsent(['metadata', 'name', 'x'], 'y'), false, 'cannot descend into a string');
  const ops = rec.ops();
  assert.deepEqual(ops, [
    { op: 'add', path: '/metadata/labels/a~1b~0c', value: 'v' },
    { op: 'add', path: '/metadata/annotations', value: { x: '1', y: '2' } },
    { op: 'add', path: '/spec/containers/0/resources', value: { requests: { cpu: '100m' }, limits: { memory: '1Gi' } } },
  ]);
  const applied = jsonpatch.applyPatch(structuredClone(doc), jsonpatch.deepClone(ops), true).newDocument;
  assert.deepEqual(applied, rec.doc);
  assert.equal(getIn(applied, ['metadata', 'labels', 'a/b~c']), 'v');
});

test('null counts as absent; a second recorder over the result records nothing (idempotent)', () => {
  const rec = new PatchRecorder({ metadata: { labels: null } });
  assert.equal(rec.addIfAbsent(['metadata', 'labels', 'k'], 'v'), true);
  assert.deepEqual(rec.ops(), [{ op: 'add', path: '/metadata/labels', value: { k: 'v' } }]);
  const again = new PatchRecorder(structuredClone(rec.doc));
  assert.equal(again.addIfAbsent(['metadata', 'labels', 'k'], 'v'), false);
  assert.deepEqual(again.ops(), []);
});

test('ops() is detached from later edits of the document', () => {
  const rec = new PatchRecorder({});
  rec.addIfAbsent(['metadata', 'labels', 'a'], '1');
  const ops = rec.ops();
  rec.addIfAbsent(['metadata', 'labels', 'b'], '2');
  assert.deepEqual(ops[0]!.value, { labels: { a: '1' } });
  assert.deepEqual(rec.ops()[0]!.value, { labels: { a: '1', b: '2' } });
});

test('copy-on-write: the source is never changed, edited paths are copied once, untouched subtrees are shared', () => {
  const source = { metadata: { name: 'a', labels: { keep: 'me' } }, spec: { containers: [{ name: 'c', env: [{ name: 'E' }] }, { name: 'd' }], volumes: [{ name: 'v' }] } };
  const before = structuredClone(source);
  const rec = new PatchRecorder(source);
  rec.addIfAbsent(['spec', 'containers', 0, 'resources', 'requests', 'cpu'], '100m');
  rec.addIfAbsent(['spec', 'containers', 0, 'resources', 'limits', 'memory'], '1Gi');
  rec.addIfAbsent(['metadata', 'labels', 'team'], 'a');
  assert.deepEqual(source, before, 'the source is unchanged');
  const doc = rec.doc as any;
  assert.notEqual(doc.spec.containers, source.spec.containers);
  assert.notEqual(doc.spec.containers[0], source.spec.containers[0]);
  assert.equal(doc.spec.containers[0].env, source.spec.containers[0].env, 'untouched subtrees are shared');
  assert.equal(doc.spec.containers[1], source.spec.containers[1]);
  assert.equal(doc.spec.volumes, source.spec.volumes);
  assert.deepEqual(doc.spec.containers[0].resources, { requests: { cpu: '100m' }, limits: { memory: '1Gi' } });
  assert.deepEqual(doc.metadata.labels, { keep: 'me', team: 'a' });
  const applied = jsonpatch.applyPatch(structuredClone(before), jsonpatch.deepClone(rec.ops()), true).newDocument;
  assert.deepEqual(applied, rec.doc);
});

test('copy-on-write keeps a "__proto__" key an own property and copies non-plain objects whole', () => {
  const source = JSON.parse('{"metadata":{"labels":{"__proto__":"x"}}}');
  const rec = new PatchRecorder(source);
  rec.addIfAbsent(['metadata', 'labels', 'k'], 'v');
  const labels = (rec.doc as any).metadata.labels;
  assert.deepEqual(Object.keys(labels), ['__proto__', 'k']);
  assert.equal(Object.getPrototypeOf(labels), Object.prototype);
  assert.equal(source.metadata.labels.k, undefined);
});

test('finish() hands over the operations and refuses later edits', () => {
  const rec = new PatchRecorder({});
  rec.addIfAbsent(['metadata', 'labels', 'a'], '1');
  const ops = rec.finish();
  assert.deepEqual(ops, [{ op: 'add', path: '/metadata', value: { labels: { a: '1' } } }]);
  assert.throws(() => rec.addIfAbsent(['metadata', 'labels', 'b'], '2'), /after finish/);
});

test('in place: edits go into the source itself, with the same ops as copy-on-write', () => {
  const make = () => ({ metadata: { labels: { app: 'a' } }, spec: { template: { spec: { containers: [{ name: 'c' }] } } } });
  const cow = new PatchRecorder(make());
  const source = make();
  const own = new PatchRecorder(source, { inPlace: true });
  for (const r of [cow, own]) {
    r.addIfAbsent(['metadata', 'labels', 'team'], 'x');
    r.addIfAbsent(['spec', 'template', 'spec', 'containers', 0, 'resources', 'requests', 'cpu'], '100m');
    r.addIfAbsent(['spec', 'template', 'spec', 'containers', 0, 'resources', 'limits', 'cpu'], '1');
  }
  assert.equal(own.doc, source);
  assert.deepEqual(source, cow.doc);
  assert.deepEqual(own.finish(), cow.finish());
  assert.equal(own.size, 2, 'the limit extends the op that created resources');
});

test('in place: edits that share, leave and re-enter a path (and ones that fail midway) give the copy-on-write ops', () => {
  const make = () => ({ a: { b: { c: 1 }, list: [{ x: {} }, 'str'] }, m: { 'k/1': {} } });
  const edits: [(string | number)[], unknown][] = [
    [['a', 'b', 'd'], 1],
    [['a', 'list', 1, 'y'], 2], // through a string: refused
    [['a', 'list', 0, 'x', 'p', 'q'], 3],
    [['a', 'list', 0, 'x', 'p', 'r'], 4], // extends the map the previous op created
    [['a', 'list', 5, 'z'], 5], // no such element
    [['m', 'k/1', 'v~'], 6],
    [['a', 'b', 'c'], 7], // present
    [['a', 'b', 'e'], 8],
    [['m', 'k/1', 'w'], 9],
  ];
  const cow = new PatchRecorder(make());
  const source = make();
  const own = new PatchRecorder(source, { inPlace: true });
  const results = edits.map(([p, v]) => [cow.addIfAbsent(p, v), own.addIfAbsent(p, v)]);
  for (const [a, b] of results) assert.equal(a, b);
  assert.deepEqual(results.map(([a]) => a), [true, false, true, true, false, true, false, true, true]);
  assert.deepEqual(source, cow.doc);
  const ops = own.finish();
  assert.deepEqual(ops, cow.finish());
  assert.deepEqual(ops.map((o) => o.path), ['/a/b/d', '/a/list/0/x/p', '/m/k~11/v~0', '/a/b/e', '/m/k~11/w']);
});
