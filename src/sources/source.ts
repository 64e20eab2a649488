// The MetricSource interface: one number for one LoadSource, or a typed SourceError.
import type { LoadSource } from '../policy/types.js';

export const DEFAULT_SOURCE_TIMEOUT_MS = 5000;

/**
 * Reads the current load for a policy's `load` block.
 * Contract: resolves with a finite number, or rejects with a SourceUnavailableError, SourceTimeoutError or
 * SourceResponseError whose message and `query` name the query. It honours `load.timeoutMs` (else its default)
 * and the caller's signal.
 */
export interface MetricSource {
  query(load: LoadSource, signal?: AbortSignal): Promise<number>;
}

/** The URL as shown in messages: user info (user:password@) removed. */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');
}

/** The query text used in errors and logs. */
export function describeLoad(load: LoadSource): string {
  return load.type === 'prometheus' ? load.query : `GET ${displayUrl(load.url)}${load.valuePath ? ` → ${load.valuePath}` : ''}`;
}
