import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestBudget, type BudgetHolder, type ShedReason } from './budget.js';

function holder(name: string, shed: string[]): BudgetHolder & { name: string } {
  return { name, bytes: 0, prev: null, next: null, held: false, shed: (r: ShedReason) => void shed.push(`${name}:${r}`) };
}

test('RequestBudget: bytes beyond the limit shed the oldest readers first, and the new bytes fit', () => {
  const shed: string[] = [];
  const reasons: ShedReason[] = [];
  const b = new RequestBudget({ maxBytes: 100, maxRequests: 10, onShed: (r) => reasons.push(r) });
  const [a, c, d] = [holder('a', shed), holder('c', shed), holder('d', shed)];
  b.enter(a);
  assert.equal(b.add(a, 60), true);
  b.enter(c);
  assert.equal(b.add(c, 30), true);
  b.enter(d);
  // d's 20 bytes would make 110: a (the oldest) goes, c stays.
  assert.equal(b.add(d, 20), true);
  assert.deepEqual(shed, ['a:bytes']);
  assert.deepEqual(reasons, ['bytes']);
  assert.equal(b.bytes, 50);
  assert.equal(b.requests, 2);
  assert.equal(a.held, false);
  // A shed holder's further bytes are refused and not counted.
  assert.equal(b.add(a, 10), false);
  assert.equal(b.bytes, 50);
  // The oldest is the one growing: it is shed itself, the caller drops the chunk.
  assert.equal(b.add(c, 80), false);
  assert.deepEqual(shed, ['a:bytes', 'c:bytes']);
  assert.equal(b.bytes, 20);
  b.leave(d);
  b.leave(d);
  assert.equal(b.bytes, 0);
  assert.equal(b.requests, 0);
});

test('RequestBudget: more readers than allowed shed the oldest; leaving from the middle keeps the order', () => {
  const shed: string[] = [];
  const b = new RequestBudget({ maxBytes: 1000, maxRequests: 3 });
  const hs = ['a', 'b', 'c', 'd', 'e'].map((n) => holder(n, shed));
  b.enter(hs[0]!);
  b.enter(hs[1]!);
  b.enter(hs[2]!);
  b.leave(hs[1]!); // from the middle
  b.enter(hs[3]!);
  assert.deepEqual(shed, []);
  b.enter(hs[4]!);
  assert.deepEqual(shed, ['a:requests']);
  b.add(hs[3]!, 10);
  assert.equal(b.add(hs[4]!, 990), true);
  // Over by one: c is the oldest but holds nothing (shedding it would free nothing), d holds 10 and goes.
  assert.equal(b.add(hs[4]!, 1), true);
  assert.deepEqual(shed, ['a:requests', 'd:bytes']);
  assert.equal(b.requests, 2);
  assert.equal(b.bytes, 991);
  assert.throws(() => new RequestBudget({ maxBytes: 0 }), /positive limits/);
});
