// Named readiness checks, aggregated into one answer in the format of Kubernetes' /readyz?verbose.
/** true: ready; otherwise the reason, or one reason per line. */
export type CheckResult = true | string | readonly string[];

export interface ReadinessAnswer {
  readonly status: 200 | 503;
  readonly body: string;
}

/** At most this many reason lines per check, each clipped: the answer stays small whatever the policies say. */
const MAX_LINES = 20;
const MAX_LINE = 400;

const clip = (s: string) => (s.length > MAX_LINE ? `${s.slice(0, MAX_LINE)}…` : s).replace(/[\r\n]+/g, ' ');

export class Readiness {
  private readonly checks = new Map<string, () => CheckResult>();

  /** Registers (or replaces) a named check; returns its removal. */
  add(name: string, check: () => CheckResult): () => void {
    this.checks.set(name, check);
    return () => {
      if (this.checks.get(name) === check) this.checks.delete(name);
    };
  }

  names(): string[] {
    return [...this.checks.keys()];
  }

  /** Every check once; a check that throws is failed with its message. */
  evaluate(): { ready: boolean; results: { name: string; reasons: readonly string[] }[] } {
    const results = [...this.checks].map(([name, check]) => {
      let r: CheckResult;
      try {
        r = check();
      } catch (e) {
        r = `check failed: ${(e as Error)?.message ?? String(e)}`;
      }
      return { name, reasons: r === true ? [] : typeof r === 'string' ? [r] : r.length ? r : ['not ready'] };
    });
    return { ready: results.every((r) => !r.reasons.length), results };
  }

  ready(): boolean {
    return this.evaluate().ready;
  }

  /**
   * 200 "ok" when ready (the full list with ?verbose); otherwise 503 and every check, one line per reason:
   * `[+]webhook ok`, `[-]policies failed: policies/x.yaml:3:5 (document 1, …): spec.thresholds.low: …`.
   */
  answer(verbose = false): ReadinessAnswer {
    const { ready, results } = this.evaluate();
    if (ready && !verbose) return { status: 200, body: 'ok' };
    const lines: string[] = [];
    for (const r of results) {
      if (!r.reasons.length) lines.push(`[+]${r.name} ok`);
      for (const reason of r.reasons.slice(0, MAX_LINES)) lines.push(`[-]${r.name} failed: ${clip(reason)}`);
      if (r.reasons.length > MAX_LINES) lines.push(`[-]${r.name} failed: and ${r.reasons.length - MAX_LINES} more`);
    }
    lines.push(ready ? 'readyz check passed' : 'readyz check failed');
    return { status: ready ? 200 : 503, body: `${lines.join('\n')}\n` };
  }
}

/** Whether a probe URL asks for the verbose answer (`/readyz?verbose`, `?verbose=true`, `?verbose=1`). */
export function wantsVerbose(url: string | undefined): boolean {
  const q = url?.indexOf('?') ?? -1;
  if (q < 0) return false;
  const v = new URLSearchParams(url!.slice(q + 1)).get('verbose');
  return v !== null && v !== 'false' && v !== '0';
}
