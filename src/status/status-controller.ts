// Keeps the status subresource of governor.io objects up to date (only on the replica holding the status Lease, only
// on change, rate limited) and reports the same information for every policy, files included, in metrics and logs.
import type { Logger } from '../observability/log.js';
import type { GovernorMetrics } from '../observability/metrics.js';
import { compileObject, type AnyPolicy } from '../policy/parse.js';
import type { PolicyStore } from '../policy/store.js';
import type { PolicyError } from '../policy/types.js';
import type { MigrationPhase } from '../scaling/migration.js';
import { scalingKey, type PolicyObservations } from './observations.js';
import { computeStatus, describeStatus, statusChange, statusPatch, type PolicyEntry, type PolicyKindName, type PolicyStatus } from './policy-status.js';

/** A governor.io object as the informers hold it. */
export interface PolicyObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { name?: string; namespace?: string; uid?: string; generation?: number; labels?: Record<string, string>; annotations?: Record<string, string> };
  readonly spec?: unknown;
  readonly status?: Partial<PolicyStatus>;
}

/** The cluster's policy objects (informers); list() reads the cache. */
export interface PolicyObjectSource {
  list(): readonly PolicyObject[];
}

export interface StatusRef {
  readonly kind: PolicyKindName;
  readonly namespace?: string;
  readonly name: string;
}

/** Writes the status subresource with a JSON merge patch. */
export interface StatusPatcher {
  patchStatus(ref: StatusRef, body: { status: Record<string, unknown> }): Promise<void>;
}

export interface StatusControllerOptions {
  readonly store: PolicyStore;
  readonly observations: PolicyObservations;
  /** Absent without a cluster: only metrics and logs. */
  readonly objects?: PolicyObjectSource;
  readonly patcher?: StatusPatcher;
  /** True on the one replica that writes status (the Lease holder). */
  readonly isLeader: () => boolean;
  readonly log: Logger;
  readonly metrics?: GovernorMetrics;
  readonly now?: () => number;
  /** An object whose conditions did not change is written at most this often (default 30 s). */
  readonly minWriteIntervalMs?: number;
  /** All status writes together: this many per second on average (default 5), bursts up to `burst` (default 10). */
  readonly writesPerSecond?: number;
  readonly burst?: number;
  /** Evaluations of ScalingPolicies no HPA asked this replica about, started per round (default 20). */
  readonly maxEvaluationsPerRound?: number;
  /** Objects compiled per round at most (default 200); the rest wait for the next round. */
  readonly maxCompilesPerRound?: number;
  /** A policy without a decision for this long (and two intervals) is evaluated by the leader (default 30 s). */
  readonly idleEvaluationMs?: number;
  /** Policies visited between two turns of the event loop (default 200). */
  readonly visitsPerSlice?: number;
}

const NO_ERRORS: readonly PolicyError[] = Object.freeze([]);
/** Lets the event loop run (requests, timers) in the middle of a round. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const MIGRATION_PHASES: readonly MigrationPhase[] = ['Pending', 'Migrating', 'Paused', 'RollingBack', 'Completed', 'RolledBack'];
const KINDS: readonly PolicyKindName[] = ['ScalingPolicy', 'MigrationPolicy', 'GovernancePolicy'];
const isKind = (k: unknown): k is PolicyKindName => KINDS.includes(k as PolicyKindName);

/** The cluster loader's name for an object (src/policy/load-cluster.ts): errors and origins carry it as the file. */
export const clusterFile = (kind: string, namespace: string | undefined, name: string) => `cluster:${kind}/${namespace ? `${namespace}/` : ''}${name}`;

const policyId = (kind: string, namespace: string | undefined, name: string) => (kind === 'GovernancePolicy' ? name : `${namespace ?? 'default'}/${name}`);

function setKey(p: AnyPolicy): string {
  return `${p.kind}/${p.kind === 'GovernancePolicy' ? '' : p.namespace}/${p.name}`;
}

interface Pending {
  readonly ref: StatusRef;
  readonly uid: string;
  readonly previous: Partial<PolicyStatus> | undefined;
  readonly next: PolicyStatus;
  readonly urgent: boolean;
}

export class PolicyStatusController {
  private readonly now: () => number;
  private readonly compiled = new Map<string, { key: string; errors: readonly PolicyError[] }>();
  private readonly written = new Map<string, { status: PolicyStatus; atMs: number }>();
  private readonly logged = new Map<string, PolicyStatus>();
  /** change: what writing `next` over the object's status would be; computed when a write is considered (objects, leader). */
  private readonly memo = new Map<string, { inputs: unknown[]; next: PolicyStatus; change?: 'none' | 'fields' | 'urgent' }>();
  private readonly failing = new Map<string, string>();
  private readonly evaluating = new Set<string>();
  private tokens: number;
  private lastRefillMs: number;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<unknown> | undefined;

  constructor(private readonly o: StatusControllerOptions) {
    this.now = o.now ?? Date.now;
    this.tokens = o.burst ?? 10;
    this.lastRefillMs = this.now();
  }

  /** undefined when the object needs compiling and this round's budget is spent (it is compiled in a later round). */
  private compile(obj: PolicyObject, kind: PolicyKindName, name: string, seen: Set<string>, budget: { left: number }): readonly PolicyError[] | undefined {
    const m = obj.metadata ?? {};
    // Compiled once per spec: the generation changes with the spec, the uid when the object is recreated.
    const cacheKey = `${m.uid ?? ''}/${m.generation ?? ''}/${JSON.stringify(m.labels ?? {})}`;
    const id = `${kind}/${m.namespace ?? ''}/${name}`;
    seen.add(id);
    const hit = this.compiled.get(id);
    if (hit && hit.key === cacheKey && m.generation !== undefined) return hit.errors;
    if (budget.left <= 0) return hit?.errors;
    budget.left--;
    const doc = structuredClone({
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { name, ...(m.namespace ? { namespace: m.namespace } : {}), ...(m.labels ? { labels: m.labels } : {}), ...(m.annotations ? { annotations: m.annotations } : {}) },
      spec: obj.spec,
    });
    const errors = compileObject(doc, { file: clusterFile(kind, m.namespace, name), document: 1 }).errors;
    this.compiled.set(id, { key: cacheKey, errors });
    return errors;
  }

  /** One pass over every policy: metrics and logs everywhere, status writes on the leader. Never throws. */
  async reconcile(): Promise<{ written: number; pending: number }> {
    const set = this.o.store.current();
    const inForce = new Map<string, AnyPolicy>();
    for (const p of [...set.scaling, ...set.migration, ...set.governance]) inForce.set(setKey(p), p);
    const storeErrors = this.o.store.lastErrors();
    const leader = this.o.isLeader();
    const nowMs = this.now();
    const nowIso = new Date(nowMs).toISOString();
    const seen = new Set<string>();
    const pending: Pending[] = [];
    let evaluations = 0;
    // A round over thousands of policies (the first ones compute and log every status) would hold the event loop the
    // adapter and the webhook serve from: it yields every visitsPerSlice policies.
    const perSlice = Math.max(1, this.o.visitsPerSlice ?? 200);
    let visits = 0;

    const visit = (e: PolicyEntry, previous: Partial<PolicyStatus> | undefined, object?: { uid: string }) => {
      const id = policyId(e.kind, e.namespace, e.name);
      const logKey = `${e.kind}/${id}`;
      seen.add(logKey);
      let decision = e.kind === 'ScalingPolicy' ? this.o.observations.decision(`${e.namespace}/${e.name}`) : undefined;
      // The leader evaluates policies no HPA asked it about lately, so their status shows a decision whichever replica
      // the HPA reached. Only those: an evaluation fixes this replica's decision for its interval, and the HPA's own
      // requests should be what does that for the policies it polls here.
      if (leader && object && e.inForce?.kind === 'ScalingPolicy' && evaluations < (this.o.maxEvaluationsPerRound ?? 20)) {
        const p = e.inForce;
        const stale =
          !decision || !this.o.observations.decidedFor(scalingKey(p), p) || nowMs - decision.atMs >= Math.max(2 * p.intervalMs, this.o.idleEvaluationMs ?? 30_000);
        if (stale && !this.evaluating.has(logKey)) {
          const run = this.o.observations.evaluate(p);
          if (run) {
            evaluations++;
            this.evaluating.add(logKey);
            void run.catch(() => undefined).finally(() => this.evaluating.delete(logKey));
          }
        }
        decision ??= this.o.observations.decision(scalingKey(p));
      }
      const migration = e.inForce?.kind === 'MigrationPolicy' ? this.o.observations.migrationState(e.inForce) : undefined;
      // Recomputed only when an input changed (the informer replaces an object on every update, the store a policy on
      // every reload, the adapter a decision on every evaluation): a round over 10,000 unchanged policies is lookups.
      const inputs = [previous, e.errors, e.inForce, decision, migration, e.generation, e.setErrors.length ? e.setErrors.map((x) => x.message).join('\n') : ''];
      let memo = this.memo.get(logKey);
      if (!memo || memo.inputs.some((v, i) => v !== inputs[i])) {
        const next = computeStatus(e, { ...(decision ? { decision } : {}), ...(migration ? { migration } : {}) }, previous ?? memo?.next, nowIso);
        memo = { inputs, next };
        this.memo.set(logKey, memo);
        this.report(e, id, logKey, next);
      }
      if (!object || !leader || !this.o.patcher) return;
      const next = memo.next;
      // previous is memo.inputs[0]: the change is the same until an input changes.
      const change = (memo.change ??= statusChange(previous, next));
      if (change === 'none') return;
      const last = this.written.get(object.uid);
      const minMs = this.o.minWriteIntervalMs ?? 30_000;
      // The informer may not show our last write yet: do not write the same status again.
      if (last && nowMs - last.atMs < minMs && (change === 'fields' || statusChange(last.status, next) === 'none')) return;
      pending.push({ ref: { kind: e.kind, ...(e.namespace ? { namespace: e.namespace } : {}), name: e.name }, uid: object.uid, previous, next, urgent: change === 'urgent' });
    };

    const clusterFiles = new Set<string>();
    const compiledSeen = new Set<string>();
    // Compiling is the expensive step (ajv and the policy checks): bounded per round so a cluster with
    // thousands of new objects does not hold the event loop (the webhook and adapter share it) for seconds.
    const budget = { left: this.o.maxCompilesPerRound ?? 200 };
    for (const obj of this.o.objects?.list() ?? []) {
      const m = obj.metadata ?? {};
      if (!isKind(obj.kind) || !m.name) continue;
      const kind = obj.kind;
      const namespace = kind === 'GovernancePolicy' ? undefined : m.namespace;
      const file = clusterFile(kind, namespace, m.name);
      clusterFiles.add(file);
      const errors = this.compile(obj, kind, m.name, compiledSeen, budget);
      if (!errors) {
        seen.add(`${kind}/${policyId(kind, namespace, m.name)}`);
        continue;
      }
      const p = inForce.get(`${kind}/${namespace ?? ''}/${m.name}`);
      visit(
        {
          kind,
          ...(namespace ? { namespace } : {}),
          name: m.name,
          ...(m.generation !== undefined ? { generation: m.generation } : {}),
          errors,
          // A file policy of the same name is not this object's.
          ...(p && p.origin.file === file ? { inForce: p } : {}),
          setErrors: errors.length ? [] : storeErrors.filter((x) => x.file === file),
        },
        obj.status,
        { uid: m.uid ?? file },
      );
      if (++visits % perSlice === 0) await nextTurn();
    }
    // Policies from files: the same information in metrics and logs (there is no object to write to).
    for (const p of inForce.values()) {
      if (clusterFiles.has(p.origin.file)) continue;
      // NO_ERRORS, not a new [] each round: the memo compares inputs by identity.
      visit({ kind: p.kind, ...(p.kind === 'GovernancePolicy' ? {} : { namespace: p.namespace }), name: p.name, errors: NO_ERRORS, inForce: p, setErrors: NO_ERRORS }, undefined);
      if (++visits % perSlice === 0) await nextTurn();
    }
    this.forgetGone(seen);
    for (const k of this.compiled.keys()) if (!compiledSeen.has(k)) this.compiled.delete(k);
    const written = await this.drain(pending);
    return { written, pending: pending.length - written };
  }

  private report(e: PolicyEntry, id: string, logKey: string, next: PolicyStatus): void {
    const m = this.o.metrics;
    const ready = next.conditions.find((c) => c.type === 'Ready');
    m?.policyReady.set({ kind: e.kind, policy: id }, ready?.status === 'True' ? 1 : 0);
    if (m && e.kind === 'MigrationPolicy' && typeof next.phase === 'string') for (const ph of MIGRATION_PHASES) m.migrationPhase.set({ policy: id, phase: ph }, ph === next.phase ? 1 : 0);
    const before = this.logged.get(logKey);
    this.logged.set(logKey, next);
    if (before && statusChange(before, next) !== 'urgent') return;
    const fields = { kind: e.kind, ...describeStatus(id, next), message: ready?.message };
    if (ready?.status === 'True') this.o.log.info(fields, 'policy status');
    else this.o.log.warn(fields, 'policy status');
  }

  private forgetGone(seen: ReadonlySet<string>): void {
    for (const k of this.logged.keys()) {
      if (seen.has(k)) continue;
      this.logged.delete(k);
      this.memo.delete(k);
      const [kind, ...rest] = k.split('/');
      const id = rest.join('/');
      this.o.metrics?.policyReady.remove({ kind: kind!, policy: id });
      if (kind === 'MigrationPolicy') for (const ph of MIGRATION_PHASES) this.o.metrics?.migrationPhase.remove({ policy: id, phase: ph });
    }
    if (this.written.size > 2 * Math.max(seen.size, 100)) this.written.clear();
  }

  /** Writes what the token bucket allows, conditions first; the rest waits for the next round. */
  private async drain(pending: Pending[]): Promise<number> {
    const rate = this.o.writesPerSecond ?? 5;
    const burst = this.o.burst ?? 10;
    pending.sort((a, b) => Number(b.urgent) - Number(a.urgent));
    let written = 0;
    for (const p of pending) {
      const now = this.now();
      this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefillMs) / 1000) * rate);
      this.lastRefillMs = now;
      if (this.tokens < 1) break;
      this.tokens -= 1;
      const id = `${p.ref.kind}/${p.ref.namespace ?? ''}/${p.ref.name}`;
      try {
        await this.o.patcher!.patchStatus(p.ref, statusPatch(p.previous, p.next));
        this.written.set(p.uid, { status: p.next, atMs: now });
        this.o.metrics?.statusWrites.inc({ result: 'ok' });
        if (this.failing.delete(id)) this.o.log.info({ policy: id }, 'status write works again');
        written++;
      } catch (e) {
        this.o.metrics?.statusWrites.inc({ result: 'error' });
        const msg = (e as Error).message;
        // Once per object and error, not every round.
        if (this.failing.get(id) !== msg) this.o.log.warn({ policy: id, err: msg }, 'cannot write policy status');
        this.failing.set(id, msg);
      }
    }
    return written;
  }

  /** Reconciles every `intervalMs` (default 5 s); rounds never overlap. */
  start(intervalMs = 5000): void {
    if (this.timer) return;
    const tick = () => {
      this.round ??= this.reconcile()
        .catch((e: unknown) => this.o.log.error({ err: (e as Error).message }, 'policy status round failed'))
        .finally(() => (this.round = undefined));
    };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.round;
  }
}
