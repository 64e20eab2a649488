// Kubernetes Events for decisions (core/v1 Events): fire-and-forget, bounded, deduplicated, never on the request's critical path.
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../observability/log.js';

export interface EventSubject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export interface GovernorEvent {
  readonly regarding: EventSubject;
  readonly type: 'Normal' | 'Warning';
  /** UpperCamelCase, e.g. PolicyViolation, PolicyAudit, PolicyException. */
  readonly reason: string;
  readonly message: string;
}

/** Contract: record() returns at once and never throws; delivery is best effort. */
export interface EventRecorder {
  record(event: GovernorEvent): void;
}

export const noopEventRecorder: EventRecorder = { record() {} };

/** The fake: keeps every event in memory. */
export class FakeEventRecorder implements EventRecorder {
  readonly events: GovernorEvent[] = [];
  record(event: GovernorEvent): void {
    this.events.push(event);
  }
}

export type CreateEvent = (namespace: string, body: CoreV1Event) => Promise<unknown>;

export interface KubeEventRecorderOptions {
  readonly create: CreateEvent;
  readonly log: Logger;
  /** source.component of the events. */
  readonly component?: string;
  readonly now?: () => number;
  /** Events in flight at most; more are dropped (and counted in the log), so a slow API server never builds a queue. */
  readonly maxInFlight?: number;
  /** The same subject, reason and message within this window is recorded once (a controller retrying would flood). */
  readonly dedupeWindowMs?: number;
  /**
   * Events per namespace: a bucket of `burst` that refills at `perSecond`; beyond it events are dropped, so a flood
   * of requests naming one namespace cannot make the ServiceAccount write unbounded Events. Default 25 and 0.5/s.
   */
  readonly namespaceRate?: { readonly burst: number; readonly perSecond: number };
  /** The same across every namespace (bounds a flood spread over many). Default 100 and 5/s. */
  readonly globalRate?: { readonly burst: number; readonly perSecond: number };
  /** Told of every event not written (a metric): rate-limited, in-flight (too many writes pending) or subject (bad names). */
  readonly onSuppressed?: (reason: 'rate-limited' | 'in-flight' | 'subject') => void;
}

const MAX_MESSAGE = 1024;
/** Namespaces whose rate buckets are remembered; beyond, the least recently used is forgotten (a full bucket again). */
const MAX_BUCKETS = 1000;
/** What apimachinery accepts as a namespace and as an object name (DNS label, DNS subdomain). */
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const UID_RE = /^[A-Za-z0-9-]{1,64}$/;

/** A token bucket: `take` is true when a token was left. */
class Bucket {
  private tokens: number;
  private at: number;
  constructor(
    private readonly rate: { readonly burst: number; readonly perSecond: number },
    now: number,
  ) {
    this.tokens = rate.burst;
    this.at = now;
  }
  take(now: number): boolean {
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.at) / 1000) * this.rate.perSecond);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class KubeEventRecorder implements EventRecorder {
  private inFlight = 0;
  private dropped = 0;
  private readonly recent = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly global: Bucket;
  private readonly now: () => number;

  constructor(private readonly opts: KubeEventRecorderOptions) {
    this.now = opts.now ?? Date.now;
    this.global = new Bucket(opts.globalRate ?? { burst: 100, perSecond: 5 }, this.now());
  }

  private suppressed(reason: 'rate-limited' | 'in-flight' | 'subject'): void {
    this.opts.onSuppressed?.(reason);
    if (this.dropped++ % 100 === 0) this.opts.log.warn({ dropped: this.dropped, reason }, 'events dropped');
  }

  /** One token from the namespace's bucket and one from the global one. */
  private allowed(namespace: string, now: number): boolean {
    let b = this.buckets.get(namespace);
    if (b) this.buckets.delete(namespace); // re-inserted below: the Map's order is least recently used first
    else {
      b = new Bucket(this.opts.namespaceRate ?? { burst: 25, perSecond: 0.5 }, now);
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(namespace, b);
    return b.take(now) && this.global.take(now);
  }

  record(event: GovernorEvent): void {
    const r = event.regarding;
    if (!r.name || !r.namespace) return; // generateName objects have no name yet; nothing to attach the event to
    // Names become part of a write the ServiceAccount makes: only what the API server itself would accept.
    if (!NAMESPACE_RE.test(r.namespace) || !NAME_RE.test(r.name) || (r.uid !== undefined && !UID_RE.test(r.uid))) return this.suppressed('subject');
    const now = this.now();
    const key = `${r.namespace}/${r.kind}/${r.name}|${event.reason}|${event.message}`;
    const last = this.recent.get(key);
    if (last !== undefined && now - last < (this.opts.dedupeWindowMs ?? 60_000)) return;
    if (!this.allowed(r.namespace, now)) return this.suppressed('rate-limited');
    this.recent.set(key, now);
    if (this.recent.size > 1000) for (const k of [...this.recent.keys()].slice(0, 500)) this.recent.delete(k);
    if (this.inFlight >= (this.opts.maxInFlight ?? 16)) return this.suppressed('in-flight');
    const at = new Date(now);
    const body: CoreV1Event = {
      // Object names go up to 253 characters, and the Event's own name must stay within that too.
      metadata: { name: `${r.name.slice(0, 200)}.${now.toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`, namespace: r.namespace },
      involvedObject: { apiVersion: r.apiVersion.slice(0, 253), kind: r.kind.slice(0, 63), name: r.name, namespace: r.namespace, ...(r.uid ? { uid: r.uid } : {}) },
      type: event.type,
      reason: event.reason,
      message: event.message.length > MAX_MESSAGE ? `${event.message.slice(0, MAX_MESSAGE - 3)}...` : event.message,
      source: { component: this.opts.component ?? 'kube-governor' },
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    };
    this.inFlight++;
    this.opts
      .create(r.namespace, body)
      .catch((e) => this.opts.log.debug({ err: (e as Error)?.message, reason: event.reason }, 'event not recorded'))
      .finally(() => this.inFlight--);
  }
}

export function kubeEventRecorder(kc: KubeConfig, log: Logger, onSuppressed?: KubeEventRecorderOptions['onSuppressed']): KubeEventRecorder {
  const core = kc.makeApiClient(CoreV1Api);
  return new KubeEventRecorder({ create: (namespace, body) => core.createNamespacedEvent({ namespace, body }), log, ...(onSuppressed ? { onSuppressed } : {}) });
}
