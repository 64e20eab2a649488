// Comparing a real HPA run with `simulateTrace`: the load trace as Prometheus answered it, and the rescale sequences.
import { get } from 'node:http';
import type { TracePoint } from '../../../src/scaling/simulate.js';

function getJson(url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    get(url, { timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(new Error(`${url}: HTTP ${res.statusCode}: ${body.slice(0, 300)}`, { cause: e }));
        }
      });
    })
      .on('timeout', function (this: { destroy(e: Error): void }) {
        this.destroy(new Error(`timeout: ${url}`));
      })
      .on('error', reject);
  });
}

/**
 * What an instant query of `promql` returned at every `stepS` between startMs and endMs (one range query), as a trace
 * with t in seconds from startMs; only the points where the value changes are kept.
 */
export async function queryRangeTrace(promUrl: string, promql: string, startMs: number, endMs: number, stepS: number): Promise<TracePoint[]> {
  const q = new URLSearchParams({ query: promql, start: String(startMs / 1000), end: String(endMs / 1000), step: String(stepS) });
  const body = await getJson(`${promUrl}/api/v1/query_range?${q}`);
  if (body.status !== 'success' || body.data.result.length !== 1) throw new Error(`query_range ${promql}: ${JSON.stringify(body).slice(0, 500)}`);
  const points: TracePoint[] = [];
  for (const [ts, v] of body.data.result[0].values as [number, string][]) {
    const t = Math.round((ts * 1000 - startMs)) / 1000;
    const load = Number(v);
    if (points.at(-1)?.load !== load) points.push({ t, load });
  }
  if (!points.length || points[0]!.t > stepS) throw new Error(`query_range ${promql}: no value at the start of the run`);
  // The first point stands for the whole start of the run.
  points[0] = { t: 0, load: points[0]!.load };
  return points;
}

export interface RescaleComparison {
  readonly realValues: readonly number[];
  readonly simValues: readonly number[];
  /** Largest |t_real − t_sim| over rescales matched by position (Infinity when the sequences differ in length). */
  readonly maxDeltaS: number;
}

/** Both arguments: the value at the start, then each change, with its time in seconds. */
export function compareRescales(real: readonly { t: number; replicas: number }[], sim: readonly { t: number; replicas: number }[]): RescaleComparison {
  const realValues = real.map((r) => r.replicas);
  const simValues = sim.map((s) => s.replicas);
  let maxDeltaS = realValues.length === simValues.length ? 0 : Number.POSITIVE_INFINITY;
  // The first entry is the initial value (observed at the start, not a rescale).
  for (let i = 1; i < Math.min(real.length, sim.length); i++) maxDeltaS = Math.max(maxDeltaS, Math.abs(real[i]!.t - sim[i]!.t));
  return { realValues, simValues, maxDeltaS };
}
