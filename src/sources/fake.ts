// A scripted MetricSource for tests: values, errors and slow answers per query text, with call counts.
import type { LoadSource } from '../policy/types.js';
import { SourceTimeoutError, SourceUnavailableError } from './errors.js';
import { DEFAULT_SOURCE_TIMEOUT_MS, describeLoad, type MetricSource } from './source.js';

export type FakeBehaviour =
  | number
  | Error
  /** Answers after delayMs (or times out first, like a real source). */
  | { readonly delayMs: number; readonly then: number | Error };

export class FakeMetricSource implements MetricSource {
  private readonly script = new Map<string, FakeBehaviour>();
  private readonly counts = new Map<string, number>();

  /** Scripts the answer for a query text (PromQL, or `GET <url> → <path>`; see describeLoad). */
  set(query: string, b: FakeBehaviour): this {
    this.script.set(query, b);
    return this;
  }

  /** Scripts the answer for a load block. */
  setFor(load: LoadSource, b: FakeBehaviour): this {
    return this.set(describeLoad(load), b);
  }

  calls(query?: string): number {
    if (query !== undefined) return this.counts.get(query) ?? 0;
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  async query(load: LoadSource, signal?: AbortSignal): Promise<number> {
    const q = describeLoad(load);
    this.counts.set(q, (this.counts.get(q) ?? 0) + 1);
    const b = this.script.get(q);
    if (b === undefined) throw new SourceUnavailableError(`fake source: nothing scripted for query ${JSON.stringify(q)}`, q);
    if (typeof b === 'number') return b;
    if (b instanceof Error) throw b;
    const timeoutMs = load.timeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(a);
        clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
      };
      const a = setTimeout(() => (done(), resolve()), b.delayMs);
      const t = setTimeout(() => (done(), reject(new SourceTimeoutError(`fake source: no answer within ${timeoutMs} ms for query ${JSON.stringify(q)}`, q))), timeoutMs);
      const onAbort = () => (done(), reject(new SourceUnavailableError(`fake source: query ${JSON.stringify(q)} was cancelled`, q)));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    if (b.then instanceof Error) throw b.then;
    return b.then;
  }
}
