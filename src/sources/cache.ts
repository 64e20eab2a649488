// Per-policy load cache: one source query per policy per interval whatever the HPA poll rate, shared by concurrent callers.
import type { LoadSource } from '../policy/types.js';
import type { LoadSample } from '../scaling/planner.js';
import { isSourceError } from './errors.js';
import { describeLoad, type MetricSource } from './source.js';

export interface QueryObservation {
  readonly key: string;
  readonly load: LoadSource;
  readonly durationMs: number;
  readonly ok: boolean;
  /** SourceError reason ('unavailable', 'timeout', 'response', 'auth') or 'internal' for anything else. */
  readonly reason?: string;
  readonly error?: string;
}

/**
 * Source queries in flight at once across all policies. Without a bound, the start-up evaluation of many policies
 * opened a connection per policy to the source at once, timed most of them out and left a large heap of garbage;
 * Prometheus would see the same burst.
 */
export const DEFAULT_MAX_CONCURRENT_QUERIES = 32;

export interface LoadCacheOptions {
  readonly now?: () => number;
  /** Queries beyond this many in flight wait their turn (their timeout starts when they run). */
  readonly maxConcurrentQueries?: number;
  /** Called after every query that reached the source (for metrics and logs). */
  readonly onQuery?: (o: QueryObservation) => void;
}

interface Entry {
  readonly fingerprint: string;
  bucket: number;
  promise: Promise<LoadSample>;
  lastGood?: { value: number; atMs: number };
}

export class LoadCache {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly maxActive: number;
  private active = 0;
  private waiting: (() => void)[] = [];
  private waitingHead = 0;

  constructor(
    private readonly source: MetricSource,
    private readonly o: LoadCacheOptions = {},
  ) {
    this.now = o.now ?? Date.now;
    this.maxActive = Math.max(1, o.maxConcurrentQueries ?? DEFAULT_MAX_CONCURRENT_QUERIES);
  }

  private acquire(): Promise<void> | undefined {
    if (this.active < this.maxActive) {
      this.active++;
      return undefined;
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot to the next waiting query, if any. */
  private release(): void {
    if (this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined as never;
      if (this.waitingHead === this.waiting.length) {
        this.waiting = [];
        this.waitingHead = 0;
      }
      next();
    } else this.active--;
  }

  /**
   * The load for `key` (a policy id) in the current interval. The first caller in an interval starts the query;
   * everyone else in that interval, in flight or later, gets the same promise. Never rejects: failures come back as
   * `{ ok: false }` samples.
   */
  get(key: string, load: LoadSource, intervalMs: number): Promise<LoadSample> {
    const bucket = Math.floor(this.now() / intervalMs);
    const fingerprint = JSON.stringify(load);
    let e = this.entries.get(key);
    if (e && e.fingerprint === fingerprint && e.bucket === bucket) return e.promise;
    if (!e || e.fingerprint !== fingerprint) {
      // A changed load block starts afresh: the old value measured something else.
      e = { fingerprint, bucket, promise: Promise.resolve({ ok: false, reason: 'pending', error: 'no query yet' }) };
      this.entries.set(key, e);
    }
    const entry = e;
    entry.bucket = bucket;
    entry.promise = this.run(key, load, entry);
    return entry.promise;
  }

  private async run(key: string, load: LoadSource, entry: Entry): Promise<LoadSample> {
    const wait = this.acquire();
    if (wait) await wait;
    const t0 = performance.now();
    try {
      const value = await this.source.query(load);
      const atMs = this.now();
      if (this.entries.get(key) === entry) entry.lastGood = { value, atMs };
      this.o.onQuery?.({ key, load, durationMs: performance.now() - t0, ok: true });
      return { ok: true, value, atMs };
    } catch (e) {
      const reason = isSourceError(e) ? e.reason : 'internal';
      const error = isSourceError(e) ? e.message : `query ${JSON.stringify(describeLoad(load))} failed: ${(e as Error)?.message ?? String(e)}`;
      this.o.onQuery?.({ key, load, durationMs: performance.now() - t0, ok: false, reason, error });
      return { ok: false, reason, error };
    } finally {
      this.release();
    }
  }

  /** Milliseconds since the last good value for key, or undefined when there never was one. */
  ageMs(key: string): number | undefined {
    const g = this.entries.get(key)?.lastGood;
    return g ? this.now() - g.atMs : undefined;
  }

  lastGood(key: string): { value: number; atMs: number } | undefined {
    return this.entries.get(key)?.lastGood;
  }

  /** Forgets every key not in `keys` (policies removed by a reload). */
  retain(keys: ReadonlySet<string>): void {
    for (const k of this.entries.keys()) if (!keys.has(k)) this.entries.delete(k);
  }

  size(): number {
    return this.entries.size;
  }
}
