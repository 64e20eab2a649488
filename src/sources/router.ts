// Routes each LoadSource to the source of its type: the MetricSource the adapter uses.
import type { LoadSource } from '../policy/types.js';
import { HttpJsonSource } from './http-json.js';
import { PrometheusSource } from './prometheus.js';
import type { MetricSource } from './source.js';

export class LoadSourceRouter implements MetricSource {
  constructor(private readonly sources: { prometheus: MetricSource; http: MetricSource }) {}

  static create(o: { prometheusUrl: string; defaultTimeoutMs?: number }): LoadSourceRouter {
    const t = o.defaultTimeoutMs !== undefined ? { defaultTimeoutMs: o.defaultTimeoutMs } : {};
    return new LoadSourceRouter({ prometheus: new PrometheusSource({ defaultUrl: o.prometheusUrl, ...t }), http: new HttpJsonSource(t) });
  }

  query(load: LoadSource, signal?: AbortSignal): Promise<number> {
    return this.sources[load.type].query(load, signal);
  }
}
