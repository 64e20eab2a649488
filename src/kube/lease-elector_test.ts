import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseElector } from './lease-elector.js';
import { FakeLeaseApi } from './lease-elector_fake.js';
import { checkLeaseApiContract } from './lease-api_contract.js';

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

const make = (api: FakeLeaseApi, identity: string, c: { now: () => number }, changes?: boolean[]) =>
  new LeaseElector({ api, identity, now: c.now, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, ...(changes ? { onChange: (l: boolean) => changes.push(l) } : {}) });

/** One Lease and one clock, with an elector per identity over them. */
function replicas(...identities: string[]) {
  const api = new FakeLeaseApi();
  const c = clock();
  return { api, c, electors: identities.map((id) => make(api, id, c)) };
}

test('the first replica creates the Lease and leads; a second one does not while the first renews', async () => {
  const { api, c, electors: [a, b] } = replicas('a', 'b');
  assert.equal(await a.tryAcquireOrRenew(), true);
  assert.equal(api.record?.holderIdentity, 'a');
  assert.equal(api.record?.leaseTransitions, 0);
  for (let i = 0; i < 20; i++) {
    c.t += 2000;
    assert.equal(await a.tryAcquireOrRenew(), true, `a renews at round ${i}`);
    assert.equal(await b.tryAcquireOrRenew(), false, `b waits at round ${i}`);
  }
  assert.equal(api.record?.holderIdentity, 'a');
});

test('a holder that stops renewing is replaced after the lease duration, judged on the follower clock; exactly one leads', async () => {
  const { api, c, electors: [a, b] } = replicas('a', 'b');
  await a.tryAcquireOrRenew();
  await b.tryAcquireOrRenew(); // b observes a's record now
  c.t += 9_000;
  assert.equal(a.isLeader(), true, 'within the renew deadline a still leads');
  assert.equal(await b.tryAcquireOrRenew(), false, 'not expired after 9 s');
  c.t += 1_000;
  assert.equal(a.isLeader(), false, 'a stops leading at its renew deadline (10 s), before anyone may take over');
  c.t += 5_000; // 15 s since b first saw the record
  assert.equal(await b.tryAcquireOrRenew(), true);
  assert.equal(api.record?.holderIdentity, 'b');
  assert.equal(api.record?.leaseTransitions, 1);
  // a comes back: it sees b's fresh record and stays a follower.
  assert.equal(await a.tryAcquireOrRenew(), false);
  assert.equal(a.isLeader() && b.isLeader(), false);
});

test('a record whose timestamps lie (a skewed holder clock) does not shorten the wait', async () => {
  const { api, c } = replicas();
  api.record = { holderIdentity: 'x', leaseDurationSeconds: 15, renewTimeMs: 0, acquireTimeMs: 0, resourceVersion: '9' };
  const b = make(api, 'b', c);
  assert.equal(await b.tryAcquireOrRenew(), false, 'renewTime far in the past, but b has only just seen it');
  c.t += 14_999;
  assert.equal(await b.tryAcquireOrRenew(), false);
  c.t += 1;
  assert.equal(await b.tryAcquireOrRenew(), true);
});

test('a renewal conflict or API error never makes two leaders; leadership ends at the renew deadline', async () => {
  const { api, c } = replicas();
  const changes: boolean[] = [];
  const a = make(api, 'a', c, changes);
  await a.tryAcquireOrRenew();
  c.t += 2000;
  api.failNext = { op: 'get', error: new Error('connection refused') };
  assert.equal(await a.tryAcquireOrRenew(), true, 'one failed round within the deadline keeps leading');
  c.t += 8000;
  api.failNext = { op: 'get', error: new Error('connection refused') };
  assert.equal(await a.tryAcquireOrRenew(), false, '10 s without a renewal: no longer leading');
  assert.deepEqual(changes, [true, false]);
  c.t += 1000;
  assert.equal(await a.tryAcquireOrRenew(), true, 'renews again once the API answers (the Lease is still its own)');
  assert.deepEqual(changes, [true, false, true]);
});

test('two replicas racing to create: one wins, the other sees a conflict and follows', async () => {
  const { api, c, electors: [a, b] } = replicas('a', 'b');
  const [ra, rb] = await Promise.all([a.tryAcquireOrRenew(), b.tryAcquireOrRenew()]);
  assert.equal(Number(ra) + Number(rb), 1);
});

test('stop() releases a held Lease so another replica takes over at once', async () => {
  const { api, c, electors: [a, b] } = replicas('a', 'b');
  await a.tryAcquireOrRenew();
  await b.tryAcquireOrRenew();
  await a.stop();
  assert.equal(a.isLeader(), false);
  assert.equal(api.record?.holderIdentity, '');
  c.t += 100;
  assert.equal(await b.tryAcquireOrRenew(), true);
});

test('FakeLeaseApi keeps the LeaseApi contract (the same suite runs on the API server in test/e2e/crd_test.ts)', async () => {
  await checkLeaseApiContract(async () => new FakeLeaseApi());
});
