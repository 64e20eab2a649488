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
  /** SourceError reason ('unavailable', 'timeout', 'response') or 'internal' for anything else. */
  readonly reason?: string;
  readonly error?: string;
}

export interface LoadCacheOptions {
  readonly now?: () => number;
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

  constructor(
    private readonly source: MetricSource,
    private readonly o: LoadCacheOptions = {},
  ) {
    this.now = o.now ?? Date.now;
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
