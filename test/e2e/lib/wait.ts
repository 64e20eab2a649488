// Bounded polling for e2e tests: every wait has a deadline and says what it waited for and what it saw last.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

export interface WaitOptions {
  /** Give up after this many ms. */
  readonly timeoutMs: number;
  /** Pause between attempts (default 250 ms). */
  readonly intervalMs?: number;
}

/**
 * Calls `probe` until it returns `{ done: true, value }` or the deadline passes. `seen` is kept for the error message,
 * so a timeout shows the last state instead of only "timed out". A probe that throws counts as not done.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<{ done: boolean; value?: T; seen?: unknown }>,
  o: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  let last: unknown = '(no attempt finished)';
  for (;;) {
    try {
      const r = await probe();
      last = r.seen ?? r.value;
      if (r.done) return r.value as T;
    } catch (e) {
      last = `error: ${(e as Error).message}`;
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(`timed out after ${o.timeoutMs} ms waiting for ${what}; last seen: ${typeof last === 'string' ? last : JSON.stringify(last)}`);
    }
    await sleep(o.intervalMs ?? 250);
  }
}
