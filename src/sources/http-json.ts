// HTTP JSON load source: GET a URL and read one number at a dotted value path (data.rps, items[0].value).
import type { LoadSource } from '../policy/types.js';
import { CredentialResolver, redactSourceError } from './credentials.js';
import { SourceAuthError, SourceResponseError, SourceUnavailableError } from './errors.js';
import { fetchText } from './fetch.js';
import { DEFAULT_SOURCE_TIMEOUT_MS, describeLoad, displayUrl, type MetricSource } from './source.js';

export class ValuePathError extends Error {
  override name = 'ValuePathError';
}

export type PathStep = string | number;

const SEGMENT = /^([^.[\]]*)((?:\[\d+\])*)$/;

/** Parses `data.rps`, `items[0].value`, `matrix[1][2]`; empty means the whole body. Throws ValuePathError. */
export function parseValuePath(path: string): PathStep[] {
  if (path === '') return [];
  const steps: PathStep[] = [];
  for (const seg of path.split('.')) {
    const m = SEGMENT.exec(seg);
    if (!m || (m[1] === '' && m[2] === '')) throw new ValuePathError(`invalid value path "${path}" (examples: data.rps, items[0].value)`);
    if (m[1]) steps.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) steps.push(Number(idx[1]));
  }
  return steps;
}

/** Follows the steps; returns undefined where the document has nothing. Own properties only. */
export function followPath(doc: unknown, steps: readonly PathStep[]): unknown {
  let cur: unknown = doc;
  for (const s of steps) {
    if (typeof s === 'number') {
      if (!Array.isArray(cur) || s >= cur.length) return undefined;
      cur = cur[s];
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, s)) return undefined;
      cur = (cur as Record<string, unknown>)[s];
    }
  }
  return cur;
}

export class HttpJsonSource implements MetricSource {
  private readonly paths = new Map<string, PathStep[]>();
  private readonly credentials: CredentialResolver;
  constructor(private readonly o: { defaultTimeoutMs?: number; credentials?: CredentialResolver } = {}) {
    this.credentials = o.credentials ?? new CredentialResolver();
  }

  private steps(path: string, query: string): PathStep[] {
    let s = this.paths.get(path);
    if (!s) {
      try {
        s = parseValuePath(path);
      } catch (e) {
        throw new SourceResponseError((e as Error).message, query);
      }
      this.paths.set(path, s);
    }
    return s;
  }

  async query(load: LoadSource, signal?: AbortSignal): Promise<number> {
    if (load.type !== 'http') throw new TypeError(`HttpJsonSource cannot run a ${load.type} load`);
    const q = describeLoad(load);
    const steps = this.steps(load.valuePath, q);
    const what = `load endpoint ${displayUrl(load.url)}`;
    const cred = await this.credentials.resolve(load.url, load.auth, undefined, { query: q, what });
    try {
      return await this.run(load, steps, q, what, cred.headers, cred.dispatcher, signal);
    } catch (e) {
      throw redactSourceError(e, cred.secrets);
    }
  }

  private async run(
    load: Extract<LoadSource, { type: 'http' }>,
    steps: PathStep[],
    q: string,
    what: string,
    extra: Record<string, string>,
    dispatcher: Parameters<typeof fetchText>[2]['dispatcher'],
    signal?: AbortSignal,
  ): Promise<number> {
    const res = await fetchText(
      load.url,
      { method: 'GET', headers: { ...extra, accept: 'application/json' } },
      {
        timeoutMs: load.timeoutMs ?? this.o.defaultTimeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS,
        query: q,
        what,
        ...(signal ? { signal } : {}),
        ...(dispatcher ? { dispatcher } : {}),
      },
    );
    if (res.status === 401) throw new SourceAuthError(`${what}: authentication failed (HTTP 401): check the source's credentials`, q);
    if (res.status === 403) throw new SourceAuthError(`${what}: access denied (HTTP 403): check the source's credentials`, q);
    if (res.status >= 500) throw new SourceUnavailableError(`${what} answered HTTP ${res.status}`, q);
    if (res.status !== 200) throw new SourceResponseError(`${what} answered HTTP ${res.status}`, q);
    let doc: unknown;
    try {
      doc = JSON.parse(res.text);
    } catch {
      throw new SourceResponseError(`${what}: response is not JSON`, q);
    }
    const raw = followPath(doc, steps);
    const where = load.valuePath ? `value path "${load.valuePath}"` : 'the response body';
    if (raw === undefined) throw new SourceResponseError(`${what}: ${where} is missing in the response`, q);
    const v = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (!Number.isFinite(v)) throw new SourceResponseError(`${what}: ${where} holds ${JSON.stringify(raw)}, not a finite number`, q);
    return v;
  }
}
