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

/** The SourceError class of one failure reason; `name` is what logs and tests see. */
function sourceError<R extends SourceFailureReason>(name: string, reason: R) {
  return class extends SourceError {
    override name = name;
    readonly reason = reason;
  };
}

/** The source could not be reached or answered with a server error (connection refused, DNS, HTTP 5xx). */
export const SourceUnavailableError = sourceError('SourceUnavailableError', 'unavailable');
/** The source refused our credentials (HTTP 401 or 403): a configuration problem, not an outage. */
export const SourceAuthError = sourceError('SourceAuthError', 'auth');
/** The source did not answer within the timeout. */
export const SourceTimeoutError = sourceError('SourceTimeoutError', 'timeout');
/** The source answered, but not with one usable number (bad query, no series, many series, NaN, not JSON…). */
export const SourceResponseError = sourceError('SourceResponseError', 'response');

export function isSourceError(e: unknown): e is SourceError {
  return e instanceof SourceError;
}
