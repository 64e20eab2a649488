// Authorization of adapter requests as extension API servers do it: SubjectAccessReview against kube-apiserver, cached.
import { AuthorizationV1Api, type KubeConfig, type V1SubjectAccessReview } from '@kubernetes/client-node';

/** Who is asking: from the front-proxy headers or a client certificate. */
export interface UserInfo {
  readonly username: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

/** What is asked: a resource request (the metric values) or a non-resource path (discovery). */
export type RequestAttributes =
  | {
      readonly kind: 'resource';
      readonly verb: string;
      readonly group: string;
      readonly version: string;
      readonly resource: string;
      readonly namespace: string;
      readonly name?: string;
    }
  | { readonly kind: 'nonResource'; readonly verb: string; readonly path: string };

export interface AuthorizationDecision {
  readonly allowed: boolean;
  readonly reason: string;
}

export class AuthorizationError extends Error {
  override name = 'AuthorizationError';
}

/** Contract: resolves with a decision; rejects with AuthorizationError only when no decision could be made. */
export interface Authorizer {
  authorize(user: UserInfo, attrs: RequestAttributes): Promise<AuthorizationDecision>;
}

/** Members of system:masters are allowed everything, without asking (as kube-apiserver's privileged-group authorizer). */
export const PRIVILEGED_GROUP = 'system:masters';

/** Allows every authenticated request: used when no Kubernetes API is configured (logged at start). */
export class AllowAllAuthorizer implements Authorizer {
  async authorize(): Promise<AuthorizationDecision> {
    return { allowed: true, reason: 'no authorizer configured' };
  }
}

export type SubjectAccessReviewCreator = (body: V1SubjectAccessReview) => Promise<V1SubjectAccessReview>;

export interface SubjectAccessReviewOptions {
  /** How long allowed and denied answers are reused (upstream default 10 s). */
  readonly ttlMs?: number;
  readonly timeoutMs?: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

export class SubjectAccessReviewAuthorizer implements Authorizer {
  private readonly cache = new Map<string, { at: number; decision: Promise<AuthorizationDecision> }>();
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly create: SubjectAccessReviewCreator,
    o: SubjectAccessReviewOptions = {},
  ) {
    this.ttlMs = o.ttlMs ?? 10_000;
    this.timeoutMs = o.timeoutMs ?? 5_000;
    this.maxEntries = o.maxEntries ?? 10_000;
    this.now = o.now ?? Date.now;
  }

  static fromKubeConfig(kc: KubeConfig, o: SubjectAccessReviewOptions = {}): SubjectAccessReviewAuthorizer {
    const api = kc.makeApiClient(AuthorizationV1Api);
    return new SubjectAccessReviewAuthorizer((body) => api.createSubjectAccessReview({ body }), o);
  }

  authorize(user: UserInfo, attrs: RequestAttributes): Promise<AuthorizationDecision> {
    if (user.groups.includes(PRIVILEGED_GROUP)) return Promise.resolve({ allowed: true, reason: `member of ${PRIVILEGED_GROUP}` });
    const key = JSON.stringify([user.username, [...user.groups].sort(), Object.entries(user.extra).sort(), attrs]);
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.decision;
    if (this.cache.size >= this.maxEntries) this.prune(now);
    const decision = this.review(user, attrs);
    this.cache.set(key, { at: now, decision });
    // Errors are not cached: the next request asks again.
    decision.catch(() => this.cache.get(key)?.decision === decision && this.cache.delete(key));
    return decision;
  }

  private prune(now: number) {
    for (const [k, v] of this.cache) if (now - v.at >= this.ttlMs) this.cache.delete(k);
    if (this.cache.size >= this.maxEntries) this.cache.clear();
  }

  private async review(user: UserInfo, attrs: RequestAttributes): Promise<AuthorizationDecision> {
    const body: V1SubjectAccessReview = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: user.username,
        groups: [...user.groups],
        extra: Object.fromEntries(Object.entries(user.extra).map(([k, v]) => [k, [...v]])),
        ...(attrs.kind === 'resource'
          ? {
              resourceAttributes: {
                verb: attrs.verb,
                group: attrs.group,
                version: attrs.version,
                resource: attrs.resource,
                namespace: attrs.namespace,
                ...(attrs.name ? { name: attrs.name } : {}),
              },
            }
          : { nonResourceAttributes: { verb: attrs.verb, path: attrs.path } }),
      },
    };
    let timer: NodeJS.Timeout | undefined;
    const call = this.create(body);
    try {
      const res = await Promise.race([
        call,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
      const st = res.status;
      return { allowed: st?.allowed === true && st?.denied !== true, reason: st?.reason ?? st?.evaluationError ?? '' };
    } catch (e) {
      throw new AuthorizationError(`SubjectAccessReview failed: ${(e as Error).message?.split('\n')[0]}`, { cause: e });
    } finally {
      clearTimeout(timer);
      call.catch(() => {});
    }
  }
}
