// `governor migrate`: status and actions over a fake cluster (workload annotations and Events).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeWorkloadApi, KubeMigrationStateStore, MIGRATION_STATE_ANNOTATION, decodeMigrationState } from '../kube/migration-state.js';
import type { WorkloadRef } from '../policy/types.js';
import { evaluateMigration } from '../scaling/migration.js';
import { filePolicyFinder, migrationAction, migrationStatus, MigrateError, type MigrateDeps } from './migrate.js';
import { runCli } from './cli_harness.js';

const repo = new URL('../../', import.meta.url).pathname;
const NS = 'shop';
const NAME = 'checkout-to-pool-b';
const findPolicy = filePolicyFinder([join(repo, 'policies/migration/checkout-to-pool-b.yaml')]);
const a = { kind: 'Deployment', name: 'checkout-a' };
const b = { kind: 'Deployment', name: 'checkout-b' };

async function cluster(started = true): Promise<{ api: FakeWorkloadApi; deps: MigrateDeps }> {
  const api = new FakeWorkloadApi().put(NS, a, 6).put(NS, b, 1);
  if (started) {
    const p = await findPolicy(NS, NAME);
    const store = new KubeMigrationStateStore(api);
    await evaluateMigration(p, store, { nowMs: Date.UTC(2026, 0, 1), load: 800, capacity: 6 });
    await evaluateMigration(p, store, { nowMs: Date.UTC(2026, 0, 1) + 30_000, load: 800, capacity: 6 });
  }
  return { api, deps: { api, findPolicy, now: () => Date.UTC(2026, 0, 1, 0, 5) } };
}

test('status before the first HPA poll: Pending, with the live replica counts', async () => {
  const { deps } = await cluster(false);
  const s = await migrationStatus(NAME, NS, deps);
  assert.match(s.text, /phase: +Pending/);
  assert.match(s.text, /live: +source 6 replicas, target 1 replicas/);
  assert.equal(s.json.phase, 'Pending');
});

test('status of a running migration: phase, R′, published values, times', async () => {
  const { deps } = await cluster();
  const s = await migrationStatus(NAME, NS, deps);
  assert.match(s.text, /phase: +Migrating/);
  assert.match(s.text, /R': +4 of R'\(0\) 6/);
  assert.match(s.text, /published: +source 4, target 2 \(capacity 6\)/);
  assert.match(s.text, /started: +2026-01-01T00:00:00.000Z \(5m ago\)/);
  assert.deepEqual(s.json.published, { source: 4, target: 2 });
});

test('pause, resume, rollback change the state on the source and record an Event on both workloads', async () => {
  const { api, deps } = await cluster();
  const paused = await migrationAction('pause', NAME, NS, deps, 'pool B alerts');
  assert.equal(paused.code, 0, paused.err);
  assert.match(paused.out, /MigrationPolicy checkout-to-pool-b paused \(phase Paused, R' 4 of 6, source 4, target 2\): pool B alerts/);
  const state = async () => decodeMigrationState((await api.get(NS, { apiVersion: 'apps/v1', ...a })).annotations[MIGRATION_STATE_ANNOTATION]!).state;
  assert.equal((await state()).phase, 'Paused');
  assert.deepEqual(
    api.events.map((e) => [e.name, e.reason, e.type]),
    [
      ['checkout-a', 'MigrationPaused', 'Normal'],
      ['checkout-b', 'MigrationPaused', 'Normal'],
    ],
  );
  const again = await migrationAction('pause', NAME, NS, deps);
  assert.equal(again.code, 1);
  assert.match(again.err, /cannot pause .* in phase Paused/);
  assert.equal((await migrationAction('resume', NAME, NS, deps)).code, 0);
  assert.equal((await state()).phase, 'Migrating');
  const rb = await migrationAction('rollback', NAME, NS, deps);
  assert.equal(rb.code, 0);
  assert.equal((await state()).phase, 'RollingBack');
  assert.deepEqual(
    api.events.map((e) => e.reason),
    ['MigrationPaused', 'MigrationPaused', 'MigrationResumed', 'MigrationResumed', 'MigrationRollback', 'MigrationRollback'],
  );
});

test('actions retry when the workload changed since it was read (the HPA scaled it)', async () => {
  const { api, deps } = await cluster();
  let bumps = 2;
  const annotate = api.annotate.bind(api);
  api.annotate = async (ns: string, ref: WorkloadRef, ann: Record<string, string | null>, rv: string) => {
    if (bumps-- > 0) api.touch(ns, ref);
    return annotate(ns, ref, ann, rv);
  };
  const r = await migrationAction('pause', NAME, NS, deps);
  assert.equal(r.code, 0, r.err);
});

test('a migration that has not started cannot be paused; an Event failure is a warning, not a failure', async () => {
  const fresh = await cluster(false);
  const r = await migrationAction('pause', NAME, NS, fresh.deps);
  assert.equal(r.code, 1);
  assert.match(r.err, /has not started/);
  const { api, deps } = await cluster();
  api.event = async () => {
    throw new Error('forbidden');
  };
  const p = await migrationAction('pause', NAME, NS, deps);
  assert.equal(p.code, 0);
  assert.match(p.err, /warning: Event on Deployment checkout-a not recorded: forbidden/);
});

test('an unknown policy is reported with what the files hold', async () => {
  const { deps } = await cluster(false);
  await assert.rejects(migrationStatus('nope', NS, deps), (e: unknown) => e instanceof MigrateError && /no MigrationPolicy shop\/nope .*found: shop\/checkout-to-pool-b/.test((e as Error).message));
  const dir = mkdtempSync(join(tmpdir(), 'governor-migrate-'));
  writeFileSync(join(dir, 'x.yaml'), '');
  await assert.rejects(filePolicyFinder([join(dir, 'x.yaml')])(NS, NAME), /found: none/);
});

test('governor migrate: -o validated; no kubeconfig at all (no KUBECONFIG, no ~/.kube/config, not in a pod) is exit 2', async () => {
  const home = mkdtempSync(join(tmpdir(), 'governor-migrate-home-'));
  const env = { KUBECONFIG: undefined, HOME: home, KUBERNETES_SERVICE_HOST: undefined };
  const policies = join(repo, 'policies/migration/checkout-to-pool-b.yaml');
  const none = await runCli(['migrate', 'status', NAME, '-n', NS, '--policies', policies], { env });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no Kubernetes API: pass --kubeconfig, set KUBECONFIG or create ~\/\.kube\/config/);
  assert.equal((await runCli(['migrate', 'status', NAME, '-o', 'xml'], { env })).code, 2);
  assert.equal((await runCli(['migrate', 'status'], { env })).code, 2);
  assert.equal((await runCli(['migrate', 'pause', NAME, '--kubeconfig', join(home, 'missing')], { env })).code, 2);
});
