// Compiles the `load` block shared by ScalingPolicy and MigrationPolicy.
import { parseDuration } from '../common/duration.js';
import type { LoadSource } from './types.js';

export function compileLoad(load: any): LoadSource {
  if (load.prometheus) {
    const p = load.prometheus;
    return {
      type: 'prometheus',
      query: p.query,
      ...(p.url ? { url: p.url } : {}),
      ...(p.timeout ? { timeoutMs: parseDuration(p.timeout) } : {}),
    };
  }
  const h = load.http;
  return { type: 'http', url: h.url, valuePath: h.valuePath ?? '', ...(h.timeout ? { timeoutMs: parseDuration(h.timeout) } : {}) };
}
