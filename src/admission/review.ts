// AdmissionReview admission.k8s.io/v1: strict decoding of requests and encoding of responses (no HTTP here).
import type { Operation } from '../governance/types.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource?: { readonly group: string; readonly version: string; readonly resource: string };
  readonly subResource?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly operation: Operation;
  readonly userInfo?: { readonly username?: string; readonly groups?: readonly string[] };
  /** null on DELETE. */
  readonly object?: unknown;
  /** Set on UPDATE and DELETE. */
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
}

export interface AdmissionStatus {
  readonly code: number;
  readonly message: string;
  readonly reason?: string;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: AdmissionStatus;
  readonly patchType?: 'JSONPatch';
  /** base64 of the JSON array of RFC 6902 operations. */
  readonly patch?: string;
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
}

export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

/** The body is not an AdmissionReview v1 request; becomes a 400 with this message. */
export class AdmissionDecodeError extends Error {
  override name = 'AdmissionDecodeError';
  readonly status = 400;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A value quoted in an error message (logged and sent back): JSON, at most 100 characters. */
const quote = (v: unknown): string => {
  const s = JSON.stringify(v ?? null) ?? 'null';
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
};

/** Validates the envelope and the fields the handlers rely on; the objects themselves stay unknown. */
export function decodeAdmissionReview(body: unknown): AdmissionRequest {
  if (!isObject(body)) throw new AdmissionDecodeError('body must be a JSON object (an AdmissionReview)');
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    throw new AdmissionDecodeError(
      `apiVersion must be ${ADMISSION_API_VERSION} (got ${quote(body.apiVersion)}); set admissionReviewVersions: ["v1"] in the webhook configuration`,
    );
  }
  if (body.kind !== 'AdmissionReview') throw new AdmissionDecodeError(`kind must be AdmissionReview (got ${quote(body.kind)})`);
  const r = body.request;
  if (!isObject(r)) throw new AdmissionDecodeError('request is required');
  if (typeof r.uid !== 'string' || r.uid === '') throw new AdmissionDecodeError('request.uid is required');
  if (!OPERATIONS.includes(r.operation as Operation)) throw new AdmissionDecodeError(`request.operation must be one of ${OPERATIONS.join(', ')}`);
  const k = r.kind;
  if (!isObject(k) || typeof k.kind !== 'string' || typeof (k.group ?? '') !== 'string' || typeof (k.version ?? '') !== 'string') {
    throw new AdmissionDecodeError('request.kind must be {group, version, kind}');
  }
  const optionalString = (name: string): string | undefined => {
    const v = r[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new AdmissionDecodeError(`request.${name} must be a string`);
    return v;
  };
  const subResource = optionalString('subResource');
  const name = optionalString('name');
  const namespace = optionalString('namespace');
  // Built field by field: each conditional spread allocates a temporary object, on every review.
  const out: { -readonly [K in keyof AdmissionRequest]: AdmissionRequest[K] } = {
    uid: r.uid,
    kind: { group: String(k.group ?? ''), version: String(k.version ?? ''), kind: k.kind },
    operation: r.operation as Operation,
    object: r.object ?? null,
    oldObject: r.oldObject ?? null,
    dryRun: r.dryRun === true,
  };
  if (isObject(r.resource)) out.resource = { group: String(r.resource.group ?? ''), version: String(r.resource.version ?? ''), resource: String(r.resource.resource ?? '') };
  if (subResource) out.subResource = subResource;
  if (name !== undefined) out.name = name;
  if (namespace !== undefined) out.namespace = namespace;
  const u = r.userInfo;
  if (isObject(u)) {
    const userInfo: { username?: string; groups?: string[] } = {};
    if (typeof u.username === 'string') userInfo.username = u.username;
    if (Array.isArray(u.groups)) userInfo.groups = u.groups.filter((g): g is string => typeof g === 'string');
    out.userInfo = userInfo;
  }
  return out;
}

export function encodeAdmissionReview(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}
