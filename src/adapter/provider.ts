// The small provider interface the external metrics API layer knows (custom-metrics-apiserver style).
import type { Requirement } from '../common/labels.js';

export interface ExternalMetricInfo {
  readonly metric: string;
}

/** One item of an ExternalMetricValueList. */
export interface ExternalMetricValue {
  readonly metricName: string;
  readonly metricLabels: Readonly<Record<string, string>>;
  /** RFC 3339, seconds precision. */
  readonly timestamp: string;
  /** Seconds the value covers. */
  readonly window?: number;
  /** A Kubernetes quantity: "3", "1500m". */
  readonly value: string;
}

/**
 * What the HTTP layer asks of whatever produces the values.
 * - listMetrics() never fails: discovery must answer even when every source is down.
 * - getValues() returns exactly one item per matching object, or throws an AdapterError: MetricNotFoundError (404),
 *   NoMatchingPolicyError (404), ValueUnavailableError (503). Any other error becomes a generic 500. The items are
 *   read, never changed: a provider may return the same array for the same answer.
 */
export interface ExternalMetricsProvider {
  listMetrics(): readonly ExternalMetricInfo[];
  getValues(namespace: string, metricName: string, selector: readonly Requirement[], selectorText: string): Promise<readonly ExternalMetricValue[]>;
}

/** Formats an instant as metav1.Time does (RFC 3339, whole seconds, UTC). */
export function metaTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
