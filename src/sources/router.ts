// Routes each LoadSource to the source of its type: the MetricSource the adapter uses.
import type { LoadSource, SourceAuth } from '../policy/types.js';
import { CredentialResolver } from './credentials.js';
import { HttpJsonSource } from './http-json.js';
import { PrometheusSource } from './prometheus.js';
import { describeLoad, type MetricSource } from './source.js';
import { hostAllowed, urlHost } from './allowed-hosts.js';
import { SourceUnavailableError } from './errors.js';

export class LoadSourceRouter implements MetricSource {
  constructor(
    private readonly sources: { prometheus: MetricSource; http: MetricSource },
    private readonly guard: { prometheusUrl?: string; allowedHosts?: readonly string[] } = {},
  ) {}

  static create(o: {
    prometheusUrl: string;
    defaultTimeoutMs?: number;
    allowedHosts?: readonly string[];
    /** The server's --prometheus-* credentials, TLS and headers (for --prometheus-url only). */
    prometheusAuth?: SourceAuth;
    /** One resolver for both sources: files read once, one TLS pool per setting. */
    credentials?: CredentialResolver;
  }): LoadSourceRouter {
    const t = o.defaultTimeoutMs !== undefined ? { defaultTimeoutMs: o.defaultTimeoutMs } : {};
    const credentials = o.credentials ?? new CredentialResolver();
    return new LoadSourceRouter(
      {
        prometheus: new PrometheusSource({ defaultUrl: o.prometheusUrl, ...t, credentials, ...(o.prometheusAuth ? { defaults: o.prometheusAuth } : {}) }),
        http: new HttpJsonSource({ ...t, credentials }),
      },
      { prometheusUrl: o.prometheusUrl, ...(o.allowedHosts ? { allowedHosts: o.allowedHosts } : {}) },
    );
  }

  query(load: LoadSource, signal?: AbortSignal): Promise<number> {
    const allowed = this.guard.allowedHosts;
    if (allowed?.length) {
      const url = load.type === 'http' ? load.url : (load.url ?? this.guard.prometheusUrl ?? '');
      const host = urlHost(url);
      if (host === undefined || !hostAllowed(host, allowed)) {
        return Promise.reject(
          new SourceUnavailableError(`source host ${host ?? url} is not allowed by --allowed-source-hosts (${allowed.join(',')})`, describeLoad(load)),
        );
      }
    }
    return this.sources[load.type].query(load, signal);
  }
}
