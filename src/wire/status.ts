// The metav1.Status body every server here answers failures with (the adapter, the webhook, the HTTPS layer below both).
import { jsonBody, type Body } from './text.js';

/** The metav1.Status body Kubernetes clients expect for every failed request. */
export interface Status {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure';
  readonly message: string;
  readonly reason: string;
  readonly code: number;
  readonly details?: { readonly name?: string; readonly group?: string; readonly kind?: string };
}

export function statusBody(code: number, reason: string, message: string, details?: Status['details']): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...(details ? { details } : {}) };
}

/** The Status as a response body. */
export function statusResponse(code: number, reason: string, message: string, details?: Status['details']): Body {
  return jsonBody(statusBody(code, reason, message, details));
}
