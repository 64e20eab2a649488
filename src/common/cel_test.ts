import { test } from 'node:test';
import assert from 'node:assert/strict';
import { celValue, compileCel, CelCompileError, plainValue } from './cel.js';

const V = ['object', 'oldObject', 'request', 'namespaceObject', 'variables'];
const obj = celValue({ metadata: { name: 'web', labels: { app: 'a' } }, spec: { replicas: 3, containers: [{ name: 'c', image: 'nginx:1.2' }, { name: 'd', image: 'busybox' }] } });
const run = (e: string, vars: Record<string, unknown> = { object: obj }) => {
  const r = compileCel(e, V).evaluate(vars);
  return 'value' in r ? plainValue(r.value) : r;
};

test('CEL as users write it in ValidatingAdmissionPolicy: has(), macros, string extensions, regex, ints from JSON', () => {
  assert.equal(run('object.spec.replicas + 1 == 4'), true);
  assert.equal(run('has(object.metadata.labels.app) && !has(object.metadata.labels.team)'), true);
  assert.equal(run('object.spec.containers.all(c, c.image.contains(":"))'), false);
  assert.equal(run('object.spec.containers.exists_one(c, c.name == "d")'), true);
  assert.deepEqual(run('object.spec.containers.filter(c, c.image.matches("^[a-z]+:[0-9.]+$")).map(c, c.name)'), ['c']);
  assert.deepEqual(run('"A,B".lowerAscii().split(",")'), ['a', 'b']);
  assert.equal(run('object.metadata.labels.exists(k, k.startsWith("a"))'), true);
  assert.equal(run('oldObject == null', { object: obj, oldObject: null }), true);
  assert.equal(run('type(object.metadata.name) == string'), true);
});

test('compile errors: syntax with its position, unknown variables and functions, bad literal regex, size limits', () => {
  const err = (e: string) => {
    try {
      compileCel(e, V);
    } catch (x) {
      assert.ok(x instanceof CelCompileError);
      return x;
    }
    assert.fail(`${e} compiled`);
  };
  const s = err('object.spec.replicas <= ');
  assert.match(s.message, /syntax error/);
  assert.deepEqual([s.line, s.column], [1, 22]);
  assert.match(err('objet.spec').message, /unknown variable objet/);
  assert.match(err('launchMissiles(1)').message, /unknown function launchMissiles/);
  assert.match(err('object.metadata.name.matches("(")').message, /invalid regular expression \(RE2\)/);
  assert.match(err('x'.repeat(5001)).message, /too long/);
  assert.match(err(Array.from({ length: 1200 }, () => '1').join(' + ')).message, /too large/);
});

test('the cost budget stops nested comprehensions, and the time limit stops what the budget allows', () => {
  const ten = '[1,2,3,4,5,6,7,8,9,10]';
  const nested = `${ten}.all(a, ${ten}.all(b, ${ten}.all(c, ${ten}.all(d, ${ten}.all(e, ${ten}.all(f, a+b+c+d+e+f > 0))))))`;
  const p = compileCel(nested, V);
  const t0 = performance.now();
  const r = p.evaluate({}, { budget: 10_000, timeLimitMs: 10_000 });
  assert.deepEqual(r, { error: 'cost budget of 10000 exceeded', exhausted: 'budget' });
  assert.ok(performance.now() - t0 < 1_000);
  const slow = p.evaluate({}, { budget: 1e12, timeLimitMs: 20 });
  assert.equal('exhausted' in slow && slow.exhausted, 'time');
  // Size counts: a function on a long string charges its length.
  const big = 'x'.repeat(200_000);
  const r2 = compileCel('object.contains("y")', V).evaluate({ object: big }, { budget: 100_000 });
  assert.equal('exhausted' in r2 && r2.exhausted, 'budget');
  // An error absorbed by || does not hide an exhausted budget.
  const r3 = compileCel(`true || ${nested}`, V).evaluate({}, { budget: 100 });
  assert.deepEqual(r3, { value: true });
  const r4 = compileCel(`${nested} || true`, V).evaluate({}, { budget: 10_000 });
  assert.equal('exhausted' in r4 && r4.exhausted, 'budget');
});

test('regular expressions run on RE2: a pattern that backtracks exponentially in JavaScript answers at once', () => {
  const t0 = performance.now();
  assert.equal(run('object.matches("^(a+)+$")', { object: `${'a'.repeat(5_000)}!` }), false);
  assert.ok(performance.now() - t0 < 1_000);
});
