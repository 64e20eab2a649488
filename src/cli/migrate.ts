// `governor migrate status|pause|resume|rollback <name>`: reads and changes a migration's state on the cluster
// (the source workload's annotation) and records each action as an Event on both workloads.
import type { Command } from 'commander';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { formatData, kubeOptions, outputOption, UsageError } from './conventions.js';
import { cliKubeConfig, contextNamespace } from './kube-flags.js';
import { KubeMigrationStateStore, KubeWorkloadApi, WorkloadNotFoundError, type WorkloadApi } from '../kube/migration-state.js';
import { compileClusterObjects, POLICY_GROUP, POLICY_VERSION } from '../policy/load-cluster.js';
import type { MigrationPolicy, WorkloadRef } from '../policy/types.js';
import { applyMigrationAction, migrationKey, publishedReplicas, type MigrationAction, type MigrationState } from '../scaling/migration.js';
import { formatSeconds } from '../common/duration.js';
import { loadScalingPolicies } from './select-policy.js';

export class MigrateError extends Error {
  override name = 'MigrateError';
}

/** Finds the MigrationPolicy by namespace and name (in the cluster or in files). */
export type MigrationPolicyFinder = (namespace: string, name: string) => Promise<MigrationPolicy>;

export interface MigrateDeps {
  readonly api: WorkloadApi;
  readonly findPolicy: MigrationPolicyFinder;
  readonly now?: () => number;
}

export interface MigrateResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

const EVENT_REASON: Record<MigrationAction, string> = { pause: 'MigrationPaused', resume: 'MigrationResumed', rollback: 'MigrationRollback' };
const PAST: Record<MigrationAction, string> = { pause: 'paused', resume: 'resumed', rollback: 'rolling back' };

const targetRef = (p: MigrationPolicy): WorkloadRef => ({ apiVersion: p.target.apiVersion, kind: p.target.kind, name: p.target.name });
const fmt = (x: number) => String(Math.round(x * 1000) / 1000);

/** The status as data (for -o json) and as lines. */
export async function migrationStatus(name: string, namespace: string, deps: MigrateDeps): Promise<{ json: Record<string, unknown>; text: string }> {
  const p = await deps.findPolicy(namespace, name);
  const store = new KubeMigrationStateStore(deps.api);
  const [stored, src, tgt] = await Promise.all([
    store.read(migrationKey(p)),
    deps.api.get(p.namespace, p.source).catch((e) => e as Error),
    deps.api.get(p.namespace, targetRef(p)).catch((e) => e as Error),
  ]);
  const s = stored.state;
  const live = (w: Awaited<ReturnType<WorkloadApi['get']>> | Error) => (w instanceof Error ? w.message : w.replicas ?? 'unknown');
  const pub = s ? publishedReplicas(p, s) : undefined;
  const json = {
    policy: `${p.namespace}/${p.name}`,
    phase: s?.phase ?? 'Pending',
    ...(s
      ? {
          sourceExact: s.sourceExact,
          base: s.base,
          capacity: s.capacity,
          startedAt: new Date(s.startedAtMs).toISOString(),
          lastStepAt: new Date(s.lastStepAtMs).toISOString(),
          ...(s.resumeTo ? { resumeTo: s.resumeTo } : {}),
        }
      : {}),
    ...(pub ? { published: { source: pub.source, target: pub.target } } : {}),
    live: { source: live(src), target: live(tgt) },
  };
  const lines = [`MigrationPolicy ${p.namespace}/${p.name}: ${p.source.kind} ${p.source.name} -> ${p.target.kind} ${p.target.name}`];
  if (!s) lines.push('  phase:      Pending (no state on the source yet: governor starts it at the first HPA poll)');
  else {
    const now = deps.now?.() ?? Date.now();
    lines.push(`  phase:      ${s.phase}${s.phase === 'Paused' ? ` (resume continues ${s.resumeTo ?? 'Migrating'})` : ''}`);
    lines.push(`  R':         ${fmt(s.sourceExact)} of R'(0) ${s.base}`);
    lines.push(`  published:  source ${pub!.source}, target ${pub!.target} (capacity ${s.capacity})`);
    lines.push(`  started:    ${new Date(s.startedAtMs).toISOString()} (${formatSeconds(Math.max(0, Math.round((now - s.startedAtMs) / 1000)))} ago)`);
    lines.push(`  last step:  ${new Date(s.lastStepAtMs).toISOString()}`);
  }
  lines.push(`  live:       source ${live(src)} replicas, target ${live(tgt)} replicas`);
  return { json, text: lines.join('\n') + '\n' };
}

/** pause, resume or rollback: state change with the resourceVersion precondition (retried on conflict), then Events. */
export async function migrationAction(action: MigrationAction, name: string, namespace: string, deps: MigrateDeps, note?: string): Promise<MigrateResult> {
  const p = await deps.findPolicy(namespace, name);
  const store = new KubeMigrationStateStore(deps.api);
  const key = migrationKey(p);
  let next: MigrationState | undefined;
  for (let attempt = 0; attempt < 5 && !next; attempt++) {
    const stored = await store.read(key);
    if (!stored.state) return { code: 1, out: '', err: `MigrationPolicy ${p.namespace}/${p.name} has not started (no state on ${p.source.kind} ${p.source.name}): nothing to ${action}\n` };
    const r = applyMigrationAction(stored.state, action);
    if (!r.ok) return { code: 1, out: '', err: `cannot ${action} MigrationPolicy ${p.namespace}/${p.name}: ${r.reason}\n` };
    // The HPA and the controllers update the workload all the time: re-read and retry on a conflict.
    if (await store.write(key, r.state, stored.version)) next = r.state;
  }
  if (!next) return { code: 1, out: '', err: `cannot ${action}: ${p.source.kind} ${p.namespace}/${p.source.name} kept changing (5 conflicts); try again\n` };
  const pub = publishedReplicas(p, next);
  const message = `governor migrate ${action}: MigrationPolicy ${p.name} ${PAST[action]} (phase ${next.phase}, R' ${fmt(next.sourceExact)} of ${next.base}, source ${pub.source}, target ${pub.target})${note ? `: ${note}` : ''}`;
  const errors: string[] = [];
  for (const ref of [p.source, targetRef(p)]) {
    await deps.api.event(p.namespace, ref, 'Normal', EVENT_REASON[action], message).catch((e) => errors.push(`warning: Event on ${ref.kind} ${ref.name} not recorded: ${(e as Error).message}`));
  }
  return { code: 0, out: `${message}\n`, err: errors.map((e) => `${e}\n`).join('') };
}

/** Finds MigrationPolicy objects in the cluster (the governor.io CRD), compiled like files. */
export function clusterPolicyFinder(kc: KubeConfig): MigrationPolicyFinder {
  const api = kc.makeApiClient(CustomObjectsApi);
  return async (namespace, name) => {
    let obj: unknown;
    try {
      obj = await api.getNamespacedCustomObject({ group: POLICY_GROUP, version: POLICY_VERSION, namespace, plural: 'migrationpolicies', name });
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (code === 404) throw new MigrateError(`MigrationPolicy ${namespace}/${name} not found in the cluster (if your policies are files, pass --policies <path>)`);
      throw new MigrateError(`cannot read MigrationPolicy ${namespace}/${name}: ${(e as Error).message?.split('\n')[0]}`);
    }
    const r = compileClusterObjects([obj]);
    const p = r.policies[0];
    if (!p || p.kind !== 'MigrationPolicy') throw new MigrateError(`MigrationPolicy ${namespace}/${name} is invalid: ${r.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    return p;
  };
}

/** Finds MigrationPolicies in policy files. */
export function filePolicyFinder(paths: readonly string[]): MigrationPolicyFinder {
  return async (namespace, name) => {
    const set = await loadScalingPolicies(paths);
    const p = set.migration.find((m) => m.namespace === namespace && m.name === name);
    if (!p) throw new MigrateError(`no MigrationPolicy ${namespace}/${name} in ${paths.join(', ')} (found: ${set.migration.map((m) => `${m.namespace}/${m.name}`).join(', ') || 'none'})`);
    return p;
  };
}

interface MigrateFlags {
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  policies?: string[];
  output?: string;
  message?: string;
}

function deps(o: MigrateFlags): { deps: MigrateDeps; namespace: string } {
  // kubectl's loading rules: --kubeconfig, else $KUBECONFIG (merged list), else ~/.kube/config, else in-cluster.
  const kc = cliKubeConfig(o);
  if (!kc) throw new UsageError('no Kubernetes API: pass --kubeconfig, set KUBECONFIG or create ~/.kube/config; migration state lives on the cluster');
  const namespace = contextNamespace(kc, o.namespace);
  const findPolicy = o.policies?.length ? filePolicyFinder(o.policies) : clusterPolicyFinder(kc);
  return { deps: { api: new KubeWorkloadApi(kc, 'governor-migrate'), findPolicy }, namespace };
}

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

export function registerMigrate(program: Command): void {
  const cmd = program.command('migrate').description('show or steer a MigrationPolicy on the cluster: status, pause, resume, rollback');
  const common = (c: Command) =>
    kubeOptions(c.option('-n, --namespace <ns>', "the policy's namespace (default: the kubeconfig context's)"))
      .option('--policies <path>', 'read the MigrationPolicy from files instead of the cluster (repeatable, comma-separated)', list);
  common(cmd.command('status').description('phase, R′, published and live replicas of a migration').argument('<name>', 'MigrationPolicy name').addOption(outputOption(['text', 'json', 'yaml'], 'text'))).action(async (name: string, o: MigrateFlags) => {
    const d = deps(o);
    try {
      const s = await migrationStatus(name, d.namespace, d.deps);
      process.stdout.write(o.output === 'json' || o.output === 'yaml' ? formatData(o.output, s.json) : s.text);
    } catch (e) {
      throw e instanceof WorkloadNotFoundError ? new MigrateError(`${e.message}: the source workload carries the migration state`) : e;
    }
  });
  for (const action of ['pause', 'resume', 'rollback'] as const) {
    const help = {
      pause: 'hold the source and target where they are (R′ stops moving)',
      resume: 'continue a paused migration (or rollback)',
      rollback: 'drain the target back into the source, one step per interval, until the source is back at R′(0)',
    }[action];
    common(cmd.command(action).description(help).argument('<name>', 'MigrationPolicy name').option('-m, --message <text>', 'why (added to the Events)')).action(async (name: string, o: MigrateFlags) => {
      const d = deps(o);
      const r = await migrationAction(action, name, d.namespace, d.deps, o.message);
      process.stdout.write(r.out);
      process.stderr.write(r.err);
      process.exitCode = r.code;
    });
  }
}
