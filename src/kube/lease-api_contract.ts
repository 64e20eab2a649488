// The behaviour every LeaseApi must have, as one suite: run on FakeLeaseApi (unit) and on KubeLeaseApi against a
// real API server (test/e2e/crd_test.ts), so the fake cannot drift from the cluster.
import assert from 'node:assert/strict';
import { LeaseConflictError, type LeaseApi } from './lease-elector.js';

/** `fresh()` gives an API on a Lease that does not exist yet. */
export async function checkLeaseApiContract(fresh: () => Promise<LeaseApi>): Promise<void> {
  const api = await fresh();
  assert.equal(await api.get(), undefined, 'get of a missing Lease is undefined');
  const t0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const created = await api.create({ holderIdentity: 'a', leaseDurationSeconds: 15, acquireTimeMs: t0, renewTimeMs: t0, leaseTransitions: 0 });
  assert.ok(created.resourceVersion, 'create returns a resourceVersion');
  const read = await api.get();
  assert.equal(read?.holderIdentity, 'a');
  assert.equal(read?.leaseDurationSeconds, 15);
  // Millisecond times survive the round trip (the API server stores microseconds).
  assert.equal(read?.renewTimeMs, t0);
  assert.equal(read?.acquireTimeMs, t0);
  await assert.rejects(api.create({ holderIdentity: 'b', leaseDurationSeconds: 15 }), LeaseConflictError, 'a second create conflicts');
  const updated = await api.update({ ...read!, holderIdentity: 'b', renewTimeMs: t0 + 1000, leaseTransitions: 1 });
  assert.notEqual(updated.resourceVersion, read!.resourceVersion);
  assert.equal((await api.get())?.holderIdentity, 'b');
  await assert.rejects(api.update({ ...read!, holderIdentity: 'c' }), LeaseConflictError, 'an update with a stale resourceVersion conflicts');
  assert.equal((await api.get())?.holderIdentity, 'b');
  const released = await api.update({ ...updated, holderIdentity: '', leaseDurationSeconds: 1 });
  assert.equal(released.holderIdentity ?? '', '');
}
