// A provider with fixed answers per namespace/metric, for testing the HTTP layer without policies or sources.
import type { Requirement } from '../common/labels.js';
import { MetricNotFoundError } from './errors.js';
import type { ExternalMetricInfo, ExternalMetricValue, ExternalMetricsProvider } from './provider.js';

export class FakeMetricsProvider implements ExternalMetricsProvider {
  readonly calls: { namespace: string; metric: string; selector: readonly Requirement[] }[] = [];
  constructor(
    private readonly metrics: readonly string[],
    /** Answer per `${namespace}/${metric}`: items, or an error to throw. */
    private readonly answers: Record<string, ExternalMetricValue[] | Error> = {},
  ) {}

  listMetrics(): readonly ExternalMetricInfo[] {
    return this.metrics.map((metric) => ({ metric }));
  }

  async getValues(namespace: string, metric: string, selector: readonly Requirement[]): Promise<ExternalMetricValue[]> {
    this.calls.push({ namespace, metric, selector });
    if (!this.metrics.includes(metric)) throw new MetricNotFoundError(metric, this.metrics);
    const a = this.answers[`${namespace}/${metric}`] ?? [];
    if (a instanceof Error) throw a;
    return a;
  }
}
