// Leader election on a coordination.k8s.io/v1 Lease (client-go's leaderelection, reduced to what kube-governor needs:
// one replica at a time writes policy status). @kubernetes/client-node 1.4 has no leader-election helper.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../observability/log.js';
import { apiStatus, readOrAbsent } from './api.js';

/** The fields of a Lease the election reads and writes. */
export interface LeaseRecord {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTimeMs?: number;
  readonly renewTimeMs?: number;
  readonly leaseTransitions?: number;
  /** The version read; an update with a stale one fails with LeaseConflictError. */
  readonly resourceVersion?: string;
}

/** 409 (or 422 on create races): someone else wrote the Lease first. */
export class LeaseConflictError extends Error {
  override name = 'LeaseConflictError';
}

/** One Lease. KubeLeaseApi talks to the cluster; FakeLeaseApi (lease-elector_fake.ts) to memory. */
export interface LeaseApi {
  /** undefined when the Lease does not exist. */
  get(): Promise<LeaseRecord | undefined>;
  /** LeaseConflictError when it exists already. */
  create(r: LeaseRecord): Promise<LeaseRecord>;
  /** Compare-and-swap on r.resourceVersion; LeaseConflictError when it changed. */
  update(r: LeaseRecord): Promise<LeaseRecord>;
}

export interface LeaseElectorOptions {
  readonly api: LeaseApi;
  /** Unique per replica (pod name plus a random suffix). */
  readonly identity: string;
  /** A holder that stops renewing loses the Lease after this long (client-go default 15 s). */
  readonly leaseDurationMs?: number;
  /** The holder gives up leading when it could not renew for this long (< leaseDuration; client-go default 10 s). */
  readonly renewDeadlineMs?: number;
  /** How often to try to acquire or renew (client-go default 2 s). */
  readonly retryPeriodMs?: number;
  readonly now?: () => number;
  readonly log?: Logger;
  readonly onChange?: (leading: boolean) => void;
}

export class LeaseElector {
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly now: () => number;
  /** The record last seen and when (local clock): expiry is judged on our clock, never on the holder's timestamps. */
  private observed: { key: string; atMs: number; record: LeaseRecord } | undefined;
  private lastRenewMs: number | undefined;
  private leadingNow = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private lastError: string | undefined;

  constructor(private readonly o: LeaseElectorOptions) {
    this.leaseMs = o.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    if (this.renewDeadlineMs >= this.leaseMs) throw new RangeError('renewDeadlineMs must be shorter than leaseDurationMs');
    this.now = o.now ?? Date.now;
  }

  /** True while this replica holds the Lease and renewed it within the renew deadline. */
  isLeader(): boolean {
    return this.lastRenewMs !== undefined && this.now() - this.lastRenewMs < this.renewDeadlineMs;
  }

  /** One round: acquire the Lease if free or expired, renew it if ours. Never throws. */
  async tryAcquireOrRenew(): Promise<boolean> {
    try {
      await this.round();
      if (this.lastError) this.o.log?.info('status lease: the Lease is readable and writable again');
      this.lastError = undefined;
    } catch (e) {
      const msg = (e as Error).message;
      // Once per distinct error, not every retry period.
      if (!(e instanceof LeaseConflictError) && msg !== this.lastError) this.o.log?.warn({ err: msg }, 'status lease: cannot read or write the Lease');
      if (!(e instanceof LeaseConflictError)) this.lastError = msg;
    }
    this.report();
    return this.isLeader();
  }

  private async round(): Promise<void> {
    const now = this.now();
    const current = await this.o.api.get();
    const seconds = Math.ceil(this.leaseMs / 1000);
    if (!current) {
      this.remember(await this.o.api.create({ holderIdentity: this.o.identity, leaseDurationSeconds: seconds, acquireTimeMs: now, renewTimeMs: now, leaseTransitions: 0 }), now);
      this.lastRenewMs = now;
      return;
    }
    const key = `${current.holderIdentity ?? ''}|${current.renewTimeMs ?? ''}|${current.resourceVersion ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, atMs: now, record: current };
    const mine = current.holderIdentity === this.o.identity;
    const holderMs = (current.leaseDurationSeconds ?? seconds) * 1000;
    const held = Boolean(current.holderIdentity) && this.observed.atMs + holderMs > now;
    if (!mine && held) {
      this.lastRenewMs = undefined;
      return;
    }
    const next: LeaseRecord = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: seconds,
      acquireTimeMs: mine ? (current.acquireTimeMs ?? now) : now,
      renewTimeMs: now,
      leaseTransitions: (current.leaseTransitions ?? 0) + (mine ? 0 : 1),
      ...(current.resourceVersion !== undefined ? { resourceVersion: current.resourceVersion } : {}),
    };
    this.remember(await this.o.api.update(next), now);
    this.lastRenewMs = now;
  }

  private remember(r: LeaseRecord, now: number): void {
    this.observed = { key: `${r.holderIdentity ?? ''}|${r.renewTimeMs ?? ''}|${r.resourceVersion ?? ''}`, atMs: now, record: r };
  }

  private report(): void {
    const leading = this.isLeader();
    if (leading === this.leadingNow) return;
    this.leadingNow = leading;
    this.o.log?.info({ identity: this.o.identity, leading }, leading ? 'status lease acquired: this replica writes policy status' : 'status lease lost or held by another replica');
    this.o.onChange?.(leading);
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.running ??= this.tryAcquireOrRenew().finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.o.retryPeriodMs ?? 2000);
    this.timer.unref();
  }

  /** Stops, and hands the Lease over at once if held (as client-go's ReleaseOnCancel), so a rollout does not wait out the lease. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    const held = this.observed?.record;
    if (this.isLeader() && held?.holderIdentity === this.o.identity) {
      await this.o.api
        .update({ ...held, holderIdentity: '', leaseDurationSeconds: 1, renewTimeMs: this.now() })
        .catch((e: unknown) => this.o.log?.warn({ err: (e as Error).message }, 'status lease: release failed; it expires on its own'));
    }
    this.lastRenewMs = undefined;
    this.report();
  }
}


function fromLease(l: V1Lease): LeaseRecord {
  const s = l.spec ?? {};
  const ms = (d: Date | undefined) => (d ? new Date(d).getTime() : undefined);
  return {
    ...(s.holderIdentity !== undefined ? { holderIdentity: s.holderIdentity } : {}),
    ...(s.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: s.leaseDurationSeconds } : {}),
    ...(s.acquireTime ? { acquireTimeMs: ms(s.acquireTime) } : {}),
    ...(s.renewTime ? { renewTimeMs: ms(s.renewTime) } : {}),
    ...(s.leaseTransitions !== undefined ? { leaseTransitions: s.leaseTransitions } : {}),
    ...(l.metadata?.resourceVersion ? { resourceVersion: l.metadata.resourceVersion } : {}),
  };
}

/** The Lease <namespace>/<name> through client-node (coordination.k8s.io/v1: get, create, update). */
export class KubeLeaseApi implements LeaseApi {
  private readonly api: CoordinationV1Api;
  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  private body(r: LeaseRecord): V1Lease {
    // MicroTime: the API server wants microseconds (V1MicroTime prints them).
    const t = (ms: number | undefined) => (ms === undefined ? undefined : new V1MicroTime(ms));
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, ...(r.resourceVersion ? { resourceVersion: r.resourceVersion } : {}) },
      spec: {
        holderIdentity: r.holderIdentity ?? '',
        ...(r.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: r.leaseDurationSeconds } : {}),
        ...(r.acquireTimeMs !== undefined ? { acquireTime: t(r.acquireTimeMs)! } : {}),
        ...(r.renewTimeMs !== undefined ? { renewTime: t(r.renewTimeMs)! } : {}),
        ...(r.leaseTransitions !== undefined ? { leaseTransitions: r.leaseTransitions } : {}),
      },
    };
  }

  async get(): Promise<LeaseRecord | undefined> {
    const lease = await readOrAbsent(() => this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }));
    return lease && fromLease(lease);
  }

  async create(r: LeaseRecord): Promise<LeaseRecord> {
    try {
      return fromLease(await this.api.createNamespacedLease({ namespace: this.namespace, body: this.body(r) }));
    } catch (e) {
      if (apiStatus(e) === 409) throw new LeaseConflictError('the Lease was created by another replica');
      throw e;
    }
  }

  async update(r: LeaseRecord): Promise<LeaseRecord> {
    try {
      return fromLease(await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: this.body(r) }));
    } catch (e) {
      if (apiStatus(e) === 409) throw new LeaseConflictError('the Lease changed since it was read');
      throw e;
    }
  }
}
