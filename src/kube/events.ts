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
}

const MAX_MESSAGE = 1024;

export class KubeEventRecorder implements EventRecorder {
  private inFlight = 0;
  private dropped = 0;
  private readonly recent = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly opts: KubeEventRecorderOptions) {
    this.now = opts.now ?? Date.now;
  }

  record(event: GovernorEvent): void {
    const r = event.regarding;
    if (!r.name || !r.namespace) return; // generateName objects have no name yet; nothing to attach the event to
    const now = this.now();
    const key = `${r.namespace}/${r.kind}/${r.name}|${event.reason}|${event.message}`;
    const last = this.recent.get(key);
    if (last !== undefined && now - last < (this.opts.dedupeWindowMs ?? 60_000)) return;
    this.recent.set(key, now);
    if (this.recent.size > 1000) for (const k of [...this.recent.keys()].slice(0, 500)) this.recent.delete(k);
    if (this.inFlight >= (this.opts.maxInFlight ?? 16)) {
      if (this.dropped++ % 100 === 0) this.opts.log.warn({ dropped: this.dropped }, 'events dropped: too many in flight');
      return;
    }
    const at = new Date(now);
    const body: CoreV1Event = {
      metadata: { name: `${r.name}.${now.toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`, namespace: r.namespace },
      involvedObject: { apiVersion: r.apiVersion, kind: r.kind, name: r.name, namespace: r.namespace, ...(r.uid ? { uid: r.uid } : {}) },
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

export function kubeEventRecorder(kc: KubeConfig, log: Logger): KubeEventRecorder {
  const core = kc.makeApiClient(CoreV1Api);
  return new KubeEventRecorder({ create: (namespace, body) => core.createNamespacedEvent({ namespace, body }), log });
}
