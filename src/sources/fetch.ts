// fetch (undici) with a timeout, a caller signal and a response size limit, mapping transport failures to SourceErrors.
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { SourceResponseError, SourceTimeoutError, SourceUnavailableError } from './errors.js';

export const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface FetchedText {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

function transportDetail(e: unknown): string {
  const err = e as { cause?: { code?: string; message?: string }; message?: string };
  const code = err.cause?.code;
  // Certificate problems name themselves (wrong CA, wrong name), so the operator sees it is TLS and not the network.
  if (code && /CERT|TLS|SSL|SIGNATURE|ISSUER|ALTNAME|EPROTO/.test(code)) return `TLS error ${code}${err.cause?.message ? `: ${err.cause.message}` : ''}`;
  return code ?? err.cause?.message ?? err.message ?? String(e);
}

/**
 * Performs one request and reads the body as text. Throws SourceTimeoutError after timeoutMs, SourceUnavailableError
 * when the server cannot be reached or the caller aborts, SourceResponseError when the body exceeds the limit.
 */
export async function fetchText(
  url: string,
  init: RequestInit,
  o: { timeoutMs: number; signal?: AbortSignal; query: string; what: string; dispatcher?: Dispatcher },
): Promise<FetchedText> {
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([timeout, o.signal]) : timeout;
  const timedOut = () => timeout.aborted && !o.signal?.aborted;
  try {
    // TLS options need a dispatcher; undici's own fetch is used with it (the one built into Node may be another major).
    const res = o.dispatcher
      ? ((await undiciFetch(url, { ...(init as object), signal, redirect: 'error', dispatcher: o.dispatcher })) as unknown as Response)
      : await fetch(url, { ...init, signal, redirect: 'error' });
    const text = await readLimited(res, o.query, o.what);
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', text };
  } catch (e) {
    if (e instanceof SourceResponseError) throw e;
    if (timedOut()) throw new SourceTimeoutError(`${o.what}: no answer within ${o.timeoutMs} ms for query ${JSON.stringify(o.query)}`, o.query, { cause: e });
    if (o.signal?.aborted) throw new SourceUnavailableError(`${o.what}: query ${JSON.stringify(o.query)} was cancelled`, o.query, { cause: e });
    throw new SourceUnavailableError(`${o.what} unreachable (${transportDetail(e)}) for query ${JSON.stringify(o.query)}`, o.query, { cause: e });
  }
}

async function readLimited(res: Response, query: string, what: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > MAX_RESPONSE_BYTES || !res.body) {
    await res.body?.cancel();
    if (!res.body) return '';
    throw new SourceResponseError(`${what}: response larger than ${MAX_RESPONSE_BYTES} bytes for query ${JSON.stringify(query)}`, query);
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel();
      throw new SourceResponseError(`${what}: response larger than ${MAX_RESPONSE_BYTES} bytes for query ${JSON.stringify(query)}`, query);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
