// Typed failures of load sources; the planner turns them into fallbacks and the adapter into 503 messages.

export type SourceFailureReason = 'unavailable' | 'timeout' | 'response' | 'auth';

/** Base class: every source failure names the query (PromQL text, or URL + value path) it was running. */
export abstract class SourceError extends Error {
  abstract readonly reason: SourceFailureReason;
  constructor(
    message: string,
    /** The query text: PromQL for Prometheus, `GET <url> → <valuePath>` for HTTP JSON. */
    readonly query: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The source could not be reached or answered with a server error (connection refused, DNS, HTTP 5xx). */
export class SourceUnavailableError extends SourceError {
  override name = 'SourceUnavailableError';
  readonly reason = 'unavailable' as const;
}

/** The source refused our credentials (HTTP 401 or 403): a configuration problem, not an outage. */
export class SourceAuthError extends SourceError {
  override name = 'SourceAuthError';
  readonly reason = 'auth' as const;
}

/** The source did not answer within the timeout. */
export class SourceTimeoutError extends SourceError {
  override name = 'SourceTimeoutError';
  readonly reason = 'timeout' as const;
}

/** The source answered, but not with one usable number (bad query, no series, many series, NaN, not JSON…). */
export class SourceResponseError extends SourceError {
  override name = 'SourceResponseError';
  readonly reason = 'response' as const;
}

export function isSourceError(e: unknown): e is SourceError {
  return e instanceof SourceError;
}
