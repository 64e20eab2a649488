// Prometheus instant queries (/api/v1/query): the one module that talks HTTP to Prometheus.
import type { LoadSource, SourceAuth } from '../policy/types.js';
import { CredentialResolver, redactSourceError } from './credentials.js';
import { SourceAuthError, SourceResponseError, SourceTimeoutError, SourceUnavailableError } from './errors.js';
import { fetchText } from './fetch.js';
import { DEFAULT_SOURCE_TIMEOUT_MS, displayUrl, type MetricSource } from './source.js';

export interface PrometheusSourceOptions {
  /** Base URL used when a policy names none (the server's --prometheus-url). */
  readonly defaultUrl: string;
  readonly defaultTimeoutMs?: number;
  /** The server's --prometheus-* credentials, TLS and headers: sent only to defaultUrl, never to a policy's own url. */
  readonly defaults?: SourceAuth;
  readonly credentials?: CredentialResolver;
}

/** The base URL without a trailing slash. */
const baseOf = (url: string) => trimTrailingSlashes(url);


type PromLoad = Extract<LoadSource, { type: 'prometheus' }>;

/** Parses a sample value as Prometheus encodes it ("12.5", "NaN", "+Inf"). */
function sampleNumber(raw: unknown, what: string, query: string): number {
  const v = typeof raw === 'string' ? Number(raw) : Number.NaN;
  if (!Number.isFinite(v)) {
    throw new SourceResponseError(`${what}: query ${JSON.stringify(query)} returned ${String(raw)}, not a finite number`, query);
  }
  return v;
}

export class PrometheusSource implements MetricSource {
  private readonly defaultTimeoutMs: number;
  private readonly credentials: CredentialResolver;
  constructor(private readonly o: PrometheusSourceOptions) {
    this.defaultTimeoutMs = o.defaultTimeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS;
    this.credentials = o.credentials ?? new CredentialResolver();
  }

  async query(load: LoadSource, signal?: AbortSignal): Promise<number> {
    if (load.type !== 'prometheus') throw new TypeError(`PrometheusSource cannot run a ${load.type} load`);
    return this.instant(load, signal);
  }

  private async instant(load: PromLoad, signal?: AbortSignal): Promise<number> {
    const base = baseOf(load.url ?? this.o.defaultUrl);
    const what = `prometheus ${displayUrl(base)}`;
    const q = load.query;
    // The server's credentials go to the server's Prometheus only: a policy naming another URL must not receive them.
    const defaults = base === baseOf(this.o.defaultUrl) ? this.o.defaults : undefined;
    const cred = await this.credentials.resolve(base, load.auth, defaults, { query: q, what });
    try {
      return await this.run(load, base, what, cred.headers, cred.dispatcher, signal);
    } catch (e) {
      throw redactSourceError(e, cred.secrets);
    }
  }

  private async run(load: PromLoad, base: string, what: string, extra: Record<string, string>, dispatcher: Parameters<typeof fetchText>[2]['dispatcher'], signal?: AbortSignal): Promise<number> {
    const timeoutMs = load.timeoutMs ?? this.defaultTimeoutMs;
    const q = load.query;
    // POST form: long queries fit, and the evaluation timeout makes Prometheus give up when we do.
    const body = new URLSearchParams({ query: q, timeout: `${Math.max(1, Math.floor(timeoutMs / 1000))}s` });
    const res = await fetchText(
      `${base}/api/v1/query`,
      { method: 'POST', body, headers: { ...extra, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' } },
      { timeoutMs, query: q, what, ...(signal ? { signal } : {}), ...(dispatcher ? { dispatcher } : {}) },
    );
    // Prometheus' web config and proxies in front of it answer these without a JSON body.
    if (res.status === 401) throw new SourceAuthError(`${what}: authentication failed (HTTP 401) for query ${JSON.stringify(q)}: check the source's credentials`, q);
    if (res.status === 403) throw new SourceAuthError(`${what}: access denied (HTTP 403) for query ${JSON.stringify(q)}: check the source's credentials and tenant`, q);
    let json: any;
    try {
      json = JSON.parse(res.text);
    } catch {
      const msg = `${what} answered HTTP ${res.status} with a body that is not JSON for query ${JSON.stringify(q)}`;
      throw res.status >= 500 ? new SourceUnavailableError(msg, q) : new SourceResponseError(msg, q);
    }
    if (json?.status !== 'success') {
      const detail = `${json?.errorType ?? `HTTP ${res.status}`}: ${json?.error ?? 'no error text'}`;
      const msg = `${what} rejected query ${JSON.stringify(q)}: ${detail}`;
      if (json?.errorType === 'timeout') throw new SourceTimeoutError(msg, q);
      if (json?.errorType === 'unavailable' || res.status >= 500) throw new SourceUnavailableError(msg, q);
      throw new SourceResponseError(msg, q);
    }
    const data = json.data ?? {};
    switch (data.resultType) {
      case 'scalar':
        return sampleNumber(data.result?.[1], what, q);
      case 'vector': {
        const series = Array.isArray(data.result) ? data.result : [];
        if (series.length === 0) throw new SourceResponseError(`${what}: query ${JSON.stringify(q)} returned no series`, q);
        if (series.length > 1) {
          throw new SourceResponseError(
            `${what}: query ${JSON.stringify(q)} returned ${series.length} series; it must return one (aggregate it, e.g. sum(...))`,
            q,
          );
        }
        return sampleNumber(series[0]?.value?.[1], what, q);
      }
      default:
        throw new SourceResponseError(
          `${what}: query ${JSON.stringify(q)} returned a ${String(data.resultType)}; it must return a scalar or an instant vector with one series`,
          q,
        );
    }
  }
}

/**
 * The URL without its trailing slashes. A loop: /\/+$/ restarts at every slash of a run that is followed by more text,
 * quadratic on a policy's URL of many slashes, and this runs on every query.
 */
export function trimTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url.charCodeAt(end - 1) === 0x2f) end--;
  return end === url.length ? url : url.slice(0, end);
}
