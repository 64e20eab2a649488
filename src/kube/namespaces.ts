// Namespace labels and annotations for the webhook (namespaceSelector, fromNamespace), read from an informer's cache.
import type { V1Namespace } from '@kubernetes/client-node';
import type { NamespaceInfo } from '../governance/types.js';
import type { Logger } from '../observability/log.js';

/**
 * What the admission path asks about namespaces. Contract: get() never blocks and never throws; undefined means
 * "unknown" (cache not synced, or the namespace was created a moment ago).
 */
export interface NamespaceLookup {
  get(name: string): NamespaceInfo | undefined;
  /** True once the first list has been received (or at once for static lookups). */
  ready(): boolean;
}

/** The fake: a fixed map (tests, and `governor review` with namespaces from manifests or flags). */
export class StaticNamespaces implements NamespaceLookup {
  private readonly map = new Map<string, NamespaceInfo>();
  constructor(entries: Iterable<[string, Partial<NamespaceInfo>]> = []) {
    for (const [name, info] of entries) this.set(name, info);
  }
  set(name: string, info: Partial<NamespaceInfo>): void {
    this.map.set(name, { labels: { ...(info.labels ?? {}) }, annotations: { ...(info.annotations ?? {}) } });
  }
  get(name: string): NamespaceInfo | undefined {
    return this.map.get(name);
  }
  ready(): boolean {
    return true;
  }
}

export function namespaceInfoOf(ns: Pick<V1Namespace, 'metadata'> | undefined): NamespaceInfo | undefined {
  if (!ns?.metadata) return undefined;
  return { labels: ns.metadata.labels ?? {}, annotations: ns.metadata.annotations ?? {} };
}

/** The part of a client-node informer the cache uses, so tests can pass a fake. */
export interface NamespaceInformer {
  get(name: string): V1Namespace | undefined;
  on(verb: 'error', cb: (err?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface NamespaceCacheOptions {
  readonly log: Logger;
  /** Delay before restarting the watch after an error (client-node informers stop on error). */
  readonly restartDelayMs?: number;
}

/** A watch-backed cache of namespaces; admission requests read it, never the API server. */
export class NamespaceCache implements NamespaceLookup {
  private synced = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  /** Set by the informer's error callback: client-node's start() resolves even when its first list failed. */
  private errored = false;

  constructor(
    private readonly informer: NamespaceInformer,
    private readonly opts: NamespaceCacheOptions,
  ) {
    informer.on('error', (err) => {
      if (this.stopped) return;
      this.errored = true;
      opts.log.warn({ err: (err as Error)?.message ?? String(err) }, 'namespace watch failed; restarting');
      this.retry();
    });
  }

  private retry(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.start();
    }, this.opts.restartDelayMs ?? 5000);
    this.timer.unref();
  }

  /** Resolves after the first list attempt; a failure is logged and retried, never thrown. */
  async start(): Promise<void> {
    if (this.stopped) return;
    this.errored = false;
    try {
      await this.informer.start();
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'namespace list failed; retrying');
      this.retry();
      return;
    }
    if (this.errored || this.stopped) return;
    if (!this.synced) this.opts.log.info('namespace cache synced');
    this.synced = true;
  }

  get(name: string): NamespaceInfo | undefined {
    return namespaceInfoOf(this.informer.get(name));
  }

  ready(): boolean {
    return this.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.informer.stop();
  }
}
