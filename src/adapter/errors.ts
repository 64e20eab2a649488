// Adapter errors as typed classes, and the one place that turns any error into a metav1.Status response.

import { statusBody, type Status } from '../wire/status.js';

export abstract class AdapterError extends Error {
  abstract readonly code: number;
  /** metav1.StatusReason */
  abstract readonly reason: string;
  details?: Status['details'];
}

/** The AdapterError class of one status code and reason; `name` is what logs and tests see. */
export function adapterError(name: string, code: number, reason: string) {
  return class extends AdapterError {
    override name = name;
    readonly code = code;
    readonly reason = reason;
  };
}

/** What a "no match" 404 lists: the names of one kind in the namespace, and how to select one of them. */
export interface NoMatchHint {
  /** e.g. "policies" */
  readonly what: string;
  readonly names: readonly string[];
  /** e.g. "select one with governor.io/policy=<name>" */
  readonly select: string;
}

/** The message of a selector that matches nothing: what was asked, then what is there (at most ten names), or `none`. */
export function noMatchMessage(kinds: string, namespace: string, selector: string, hint: NoMatchHint, none = ''): string {
  const { what, names, select } = hint;
  const there = names.length ? ` (${what} there: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}; ${select})` : none;
  return `no ${kinds} in namespace ${namespace} matches selector ${JSON.stringify(selector)}${there}`;
}

/** 404: the metric is not one this server publishes. */
export class MetricNotFoundError extends adapterError('MetricNotFoundError', 404, 'NotFound') {
  constructor(
    readonly metric: string,
    served: readonly string[],
  ) {
    super(`the server could not find the metric ${metric}: this adapter publishes ${served.join(', ')}`);
    this.details = { name: metric, group: 'external.metrics.k8s.io', kind: metric };
  }
}

/** 404: no ScalingPolicy in the namespace matches the selector. */
export class NoMatchingPolicyError extends adapterError('NoMatchingPolicyError', 404, 'NotFound') {
  constructor(namespace: string, selector: string, known: readonly string[]) {
    super(noMatchMessage('ScalingPolicy', namespace, selector, { what: 'policies', names: known, select: 'select one with governor.io/policy=<name>' }, ' (there are none)'));
  }
}

/** 400: a malformed request (selector syntax, metric or namespace name, encoding). */
export const BadRequestError = adapterError('BadRequestError', 400, 'BadRequest');
/** 414: a request URI no metrics client would send. */
export const UriTooLongError = adapterError('UriTooLongError', 414, 'RequestURITooLong');
/** 404: a path this server does not serve. */
export const PathNotFoundError = adapterError('PathNotFoundError', 404, 'NotFound');
export const MethodNotAllowedError = adapterError('MethodNotAllowedError', 405, 'MethodNotAllowed');
/** 406: only aggregated discovery (or another type we do not serve) is acceptable; the aggregator then falls back. */
export const NotAcceptableError = adapterError('NotAcceptableError', 406, 'NotAcceptable');
export const UnauthorizedError = adapterError('UnauthorizedError', 401, 'Unauthorized');
export const ForbiddenError = adapterError('ForbiddenError', 403, 'Forbidden');

/**
 * 503: no value to publish (the load source down beyond the fallback, a migration's state unreadable). The message
 * names the policy and the kind of failure only: anyone who can read the HPA's events reads it, so the source's URL,
 * its query and its error stay in `detail`, for the server log.
 */
export class ValueUnavailableError extends adapterError('ValueUnavailableError', 503, 'ServiceUnavailable') {
  constructor(
    message: string,
    /** What the server log says about it (may name URLs and queries); not sent to the client. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** The words for a load sample's failure class (LoadSample.reason: SourceError reasons, 'internal', 'pending'). */
const FAILURE_CLASSES: Record<string, string> = { auth: 'authentication failed or access denied (HTTP 401/403): check its credentials', unavailable: 'unreachable', timeout: 'timed out', response: 'no usable value in its answer', internal: 'internal error', pending: 'not queried yet' };

/** The 503 message of a load source failure: the source's type, the policy and the failure class, no URL or query. */
export function loadSourceFailing(sourceType: string, policy: string, failureClass: string | undefined): string {
  return `load source ${sourceType} of policy ${policy} failing: ${FAILURE_CLASSES[failureClass ?? ''] ?? failureClass ?? 'unknown'}`;
}


const GENERIC_500 = 'Internal error occurred: the request could not be processed (details are in the server log)';

/**
 * Maps any thrown value to a Status. AdapterErrors keep their message; client errors raised by express (bad URL
 * encoding) become 400; everything else is a bare 500 whose detail only goes to the log (`internal: true`).
 */
export function toStatus(err: unknown): { status: Status; internal: boolean } {
  if (err instanceof AdapterError) return { status: statusBody(err.code, err.reason, err.message, err.details), internal: false };
  const httpStatus = (err as { status?: unknown })?.status;
  if (typeof httpStatus === 'number' && httpStatus >= 400 && httpStatus < 500) {
    const msg = err instanceof URIError || /decode/i.test((err as Error).message ?? '') ? 'malformed percent-encoding in the request path' : 'bad request';
    return { status: statusBody(400, 'BadRequest', msg), internal: false };
  }
  return { status: statusBody(500, 'InternalError', GENERIC_500), internal: true };
}
