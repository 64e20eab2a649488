// The admission handlers: plain functions from AdmissionRequest to AdmissionResponse over the governance engine (Kyverno style).
import type { GovernanceEngine, PolicySummary, UnfinishedPolicy } from '../governance/engine.js';
import { clip as clipText, denialMessage, formatViolation, formatWarning, MAX_WARNING_LENGTH, type GovernanceVerdict, type RuleResult } from '../governance/result.js';
import type { EventRecorder, EventSubject } from '../kube/events.js';
import type { NamespaceLookup } from '../kube/namespaces.js';
import type { Logger } from '../observability/log.js';
import type { GovernorMetrics } from '../observability/metrics.js';
import type { ReviewContext } from '../governance/types.js';
import { patchBase64 } from '../wire/json-patch-text.js';
import { workloadKind } from '../governance/pod-template.js';
import { DENIAL_CODES } from '../policy/cel-validations.js';
import { decodeAdmissionReview, encodeAdmissionReview, type AdmissionRequest, type AdmissionResponse, type AdmissionReviewResponse } from './review.js';

export type WebhookName = 'mutate' | 'validate';
/** The mutate handler changes `req.object` (its defaults go in place): pass a request whose object nothing else reads. */
export type AdmissionHandler = (req: AdmissionRequest) => AdmissionResponse;

export interface AdmissionEnvironment {
  /** The engine of the policy set in force (compiled once per set by the caller). */
  engine(): GovernanceEngine;
  readonly namespaces: NamespaceLookup;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly metrics?: GovernorMetrics;
  /** Injected clock for the duration histogram (seconds). */
  readonly now?: () => number;
  /**
   * How long the engine may evaluate one review (ms, default DEFAULT_REVIEW_BUDGET_MS; --review-timeout): past it,
   * validate denies if an enforce policy was not evaluated and mutate allows without a patch. The engine reads its
   * deadline on performance.now.
   */
  readonly reviewBudgetMs?: number;
}

/**
 * Below the webhook's timeoutSeconds (3–5 s) so the API server gets our answer, not its failurePolicy, and below a
 * probe's default 1 s timeout: the review runs on the event loop that answers /livez and /readyz.
 */
export const DEFAULT_REVIEW_BUDGET_MS = 500;

/** The API server shows at most this many warnings usefully; the rest is summarised. */
export const MAX_WARNINGS = 20;
const MAX_AUDIT_VALUE = 2000;

function contextOf(req: AdmissionRequest, env: AdmissionEnvironment): ReviewContext {
  const namespace = req.namespace ?? '';
  const info = namespace ? env.namespaces.get(namespace) : undefined;
  const deadline = performance.now() + (env.reviewBudgetMs ?? DEFAULT_REVIEW_BUDGET_MS);
  // Built field by field: conditional spreads allocate a temporary object each, on every review.
  const ctx: { -readonly [K in keyof ReviewContext]: ReviewContext[K] } = { group: req.kind.group, version: req.kind.version, kind: req.kind.kind, namespace, operation: req.operation, oldObject: req.oldObject, deadline };
  if (req.name !== undefined) ctx.name = req.name;
  if (info) ctx.namespaceInfo = info;
  const user = req.userInfo?.username;
  if (user !== undefined) ctx.requestedBy = user;
  return ctx;
}

function allow(uid: string): AdmissionResponse {
  return { uid, allowed: true };
}

function clip(s: string): string {
  return s.length > MAX_AUDIT_VALUE ? `${s.slice(0, MAX_AUDIT_VALUE - 3)}...` : s;
}

/** `more`: warnings the engine counted past the ones it kept (GovernanceVerdict.omitted). */
function warningsOf(results: readonly RuleResult[], more = 0): string[] | undefined {
  if (!results.length) return undefined;
  const all = [...new Set(results.map(formatWarning))];
  if (all.length <= MAX_WARNINGS && !more) return all;
  const shown = all.slice(0, MAX_WARNINGS - 1);
  return [...shown, `... and ${all.length - shown.length + more} more policy warnings`];
}

/** "policy/rule" per result for the log line; deduplicated when there are many (up to 50, often one rule). */
function ruleNames(results: readonly RuleResult[]): string[] {
  const names = results.map((r) => `${r.policy}/${r.rule}`);
  return names.length > 4 ? [...new Set(names)] : names;
}

/** Names and user names come from the request: the API server bounds them, a direct caller need not. */
const MAX_LOGGED_NAME = 253;
const name = (s: string | undefined): string | undefined => (s === undefined || s.length <= MAX_LOGGED_NAME ? s : clipText(s, MAX_LOGGED_NAME));

function count(env: AdmissionEnvironment, webhook: WebhookName, req: AdmissionRequest, result: string, policies: readonly PolicySummary[]): void {
  const m = env.metrics?.admissionRequestsBuffer;
  if (!m) return;
  const operation = req.operation;
  // The kind comes from the request: anything but a workload kind is counted as "other" so a client cannot grow the series.
  const kind = workloadKind(req.kind.group, req.kind.kind) ?? 'other';
  // One sample per matched policy (with that policy's own result) so dashboards can break down by policy. The labels
  // before the policy's are found once per review; a policy whose own result differs is counted on its own.
  const node = m.under([webhook, operation, kind, result]);
  if (!policies.length) m.incUnder(node, '');
  for (const p of policies) {
    const own = p.result === 'fail' ? 'denied' : p.result === 'warn' ? 'warned' : result;
    if (own === result) m.incUnder(node, p.policy);
    else m.inc([webhook, operation, kind, own, p.policy]);
  }
}

/** A child logger made on first use: most reviews log nothing at info, and a pino child is not free. */
function lazyChild(log: Logger, bindings: Record<string, string>): () => Logger {
  let child: Logger | undefined;
  return () => (child ??= log.child(bindings));
}

/** Subresource requests (status, scale…) are never about the workload's spec or metadata: pass them through. */
function passThrough(req: AdmissionRequest): boolean {
  return req.subResource !== undefined && req.subResource !== '';
}

const IN_PLACE = { inPlace: true } as const;
const NONE: readonly never[] = [];

function policyList(unfinished: readonly UnfinishedPolicy[]): string {
  const names = unfinished.map((p) => p.policy);
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

/** A review cut off at its budget: counted, logged in one line; the answer depends on the webhook (see callers). */
function deadlineExceeded(env: AdmissionEnvironment, webhook: WebhookName, req: AdmissionRequest, unfinished: readonly UnfinishedPolicy[]): string {
  const budget = env.reviewBudgetMs ?? DEFAULT_REVIEW_BUDGET_MS;
  env.metrics?.reviewDeadlineExceeded.inc({ webhook });
  env.log.warn(
    { uid: req.uid, webhook, operation: req.operation, kind: name(req.kind.kind), namespace: name(req.namespace), name: name(req.name), budgetMs: budget, unfinished: unfinished.slice(0, 20).map((p) => p.policy) },
    'review deadline exceeded',
  );
  return `the review stopped at its ${budget} ms budget`;
}

export function mutateHandler(env: AdmissionEnvironment): AdmissionHandler {
  return (req) => {
    if (passThrough(req) || (req.operation !== 'CREATE' && req.operation !== 'UPDATE')) {
      count(env, 'mutate', req, 'skipped', []);
      return allow(req.uid);
    }
    // The object was parsed for this request and nothing reads it after: defaults go straight into it (no copies).
    const out = env.engine().mutate(req.object, contextOf(req, env), IN_PLACE);
    if (out.unfinished) {
      // Fail open: a missing default is caught by /validate (which fails closed), a refused write is an outage.
      const why = deadlineExceeded(env, 'mutate', req, out.unfinished);
      count(env, 'mutate', req, 'unchanged', out.policies);
      const warning = `governor: defaults not applied: ${why} (policies ${policyList(out.unfinished)})`;
      return { uid: req.uid, allowed: true, warnings: [warning.length <= MAX_WARNING_LENGTH ? warning : `${warning.slice(0, MAX_WARNING_LENGTH - 3)}...`] };
    }
    const log = lazyChild(env.log, { uid: req.uid, webhook: 'mutate' });
    const debug = env.log.isLevelEnabled('debug');
    for (const r of out.results) if (r.status === 'error') log().warn({ policy: r.policy, rule: r.rule }, formatViolation(r));
    if (!out.patch.length) {
      count(env, 'mutate', req, out.skipped ? 'skipped' : 'unchanged', out.policies);
      if (debug) log().debug({ kind: req.kind.kind, namespace: req.namespace, name: req.name, skipped: out.skipped }, 'no mutation');
      return allow(req.uid);
    }
    count(env, 'mutate', req, 'patched', out.policies);
    if (debug) log().debug({ kind: req.kind.kind, namespace: req.namespace, name: req.name, ops: out.patch.length }, 'mutated');
    return {
      uid: req.uid,
      allowed: true,
      patchType: 'JSONPatch',
      patch: patchBase64(out.patch),
      auditAnnotations: { 'mutated-by': out.policies.map((p) => p.policy).join(',') },
    };
  };
}

export function validateHandler(env: AdmissionEnvironment): AdmissionHandler {
  return (req) => {
    if (passThrough(req) || req.operation === 'CONNECT') {
      count(env, 'validate', req, 'skipped', []);
      return allow(req.uid);
    }
    const ctx = contextOf(req, env);
    const out = env.engine().validate(req.operation === 'DELETE' ? null : req.object, ctx);
    if (out.unfinished) return unfinishedValidation(env, req, out.decision, out.unfinished);
    const { decision } = out;
    const m = env.metrics;
    // The common answer (allowed, nothing to report) builds nothing else.
    if (decision.allowed && !decision.warnings.length && !decision.exceptions.length && !out.results.some((r) => r.status === 'fail' || r.status === 'warn')) {
      count(env, 'validate', req, out.skipped ? 'skipped' : 'allowed', out.policies);
      if (env.log.isLevelEnabled('debug')) env.log.debug({ uid: req.uid, webhook: 'validate', operation: req.operation, kind: req.kind.kind, namespace: req.namespace, name: req.name, skipped: out.skipped }, 'allowed');
      return allow(req.uid);
    }
    const log = env.log;
    const kind = name(req.kind.kind);
    const namespace = name(req.namespace);
    const objectName = name(req.name);
    const user = name(req.userInfo?.username);
    const violations = m?.ruleViolationsBuffer;
    if (violations) for (const r of out.results) if (r.status === 'fail' || r.status === 'warn') violations.inc([r.policy, r.rule, r.status === 'warn' ? 'warn' : r.mode]);
    // One exception use per policy, rule and channel, however many containers it excused.
    const exceptions = decision.exceptions.length ? [...new Map(decision.exceptions.map((r) => [`${r.policy}|${r.rule}|${r.exception!.via}`, r])).values()] : NONE;
    for (const r of exceptions) {
      m?.exceptionsUsed.inc({ policy: r.policy, rule: r.rule, via: r.exception!.via });
      log.info({ uid: req.uid, webhook: 'validate', operation: req.operation, kind, namespace, name: objectName, user, dryRun: req.dryRun, policy: r.policy, rule: r.rule, via: r.exception!.via, reason: r.exception!.reason }, 'exception used');
    }
    let auditAnnotations: Record<string, string> | undefined;
    if (exceptions.length) (auditAnnotations ??= {}).exceptions = clip(exceptions.map((r) => `${r.policy}/${r.rule}: ${r.exception!.reason}`).join('; '));
    if (decision.warnings.length) (auditAnnotations ??= {}).warnings = clip(decision.warnings.map(formatViolation).join('; '));
    const warnings = warningsOf(decision.warnings, decision.omitted?.warnings);
    // dryRun: no side effects (sideEffects: NoneOnDryRun); metrics and logs are not side effects on the cluster. An
    // Event is only about the object the request carries, named by its own metadata (eventSubject).
    const regarding = req.dryRun ? undefined : eventSubject(req);
    if (!req.dryRun && !regarding) m?.eventsSuppressed.inc({ reason: 'subject' });
    const events = regarding ? env.events : undefined;
    if (!decision.allowed) {
      const message = denialMessage(decision.denials, decision.omitted?.denials);
      count(env, 'validate', req, 'denied', out.policies);
      // Every denial is logged (one line, written asynchronously: src/observability/log.ts).
      log.info({ uid: req.uid, webhook: 'validate', operation: req.operation, kind, namespace, name: objectName, user, dryRun: req.dryRun, rules: ruleNames(decision.denials), violations: decision.denials.length + (decision.omitted?.denials ?? 0) }, 'denied');
      events?.record({ regarding: regarding!, type: 'Warning', reason: 'PolicyViolation', message: `${req.operation} denied: ${message}` });
      const { code, reason } = denialStatus(decision.denials);
      return answer({ uid: req.uid, allowed: false, status: { code, reason, message } }, warnings, auditAnnotations);
    }
    count(env, 'validate', req, decision.warnings.length ? 'warned' : out.skipped ? 'skipped' : 'allowed', out.policies);
    if (decision.warnings.length) {
      log.info({ uid: req.uid, webhook: 'validate', operation: req.operation, kind, namespace, name: objectName, user, dryRun: req.dryRun, rules: ruleNames(decision.warnings), violations: decision.warnings.length + (decision.omitted?.warnings ?? 0) }, 'admitted with warnings');
      events?.record({ regarding: regarding!, type: 'Warning', reason: 'PolicyAudit', message: decision.warnings.map(formatViolation).join('\n') });
    } else if (log.isLevelEnabled('debug')) log.debug({ uid: req.uid, webhook: 'validate', operation: req.operation, kind, namespace, name: objectName, user, dryRun: req.dryRun, skipped: out.skipped }, 'allowed');
    if (exceptions.length) {
      events?.record({ regarding: regarding!, type: 'Normal', reason: 'PolicyException', message: exceptions.map((r) => `${r.policy}/${r.rule} excused: ${r.exception!.reason}`).join('\n') });
    }
    return answer({ uid: req.uid, allowed: true }, warnings, auditAnnotations);
  };
}

/** The answer with its warnings and audit annotations when there are any, field by field (no temporary objects). */
function answer(r: { -readonly [K in keyof AdmissionResponse]: AdmissionResponse[K] }, warnings: string[] | undefined, auditAnnotations: Record<string, string> | undefined): AdmissionResponse {
  if (warnings) r.warnings = warnings;
  if (auditAnnotations) r.auditAnnotations = auditAnnotations;
  return r;
}

/**
 * The denial's status reason and code: 403 Forbidden, unless the first violation is a failed CEL validation with a
 * `reason`, whose reason and code answer instead (Unauthorized 401, Forbidden 403, Invalid 422,
 * RequestEntityTooLarge 413), as a ValidatingAdmissionPolicy answers with its first failed validation's reason. The
 * API server passes a webhook's code and reason on to the client.
 */
export function denialStatus(denials: readonly RuleResult[]): { code: number; reason: string } {
  const first = denials[0]?.reason;
  return first ? { code: DENIAL_CODES[first], reason: first } : { code: 403, reason: 'Forbidden' };
}

/**
 * /validate past its budget: fail closed for enforce policies (denied, saying which were not evaluated), open for
 * audit ones (a warning); what was found before the cut-off still counts.
 */
function unfinishedValidation(env: AdmissionEnvironment, req: AdmissionRequest, decision: GovernanceVerdict, unfinished: readonly UnfinishedPolicy[]): AdmissionResponse {
  const why = deadlineExceeded(env, 'validate', req, unfinished);
  const enforce = unfinished.filter((p) => p.mode === 'enforce');
  const audit = unfinished.filter((p) => p.mode === 'audit');
  const warnings = audit.length ? [`governor: audit policies not evaluated: ${why} (${policyList(audit)})`.slice(0, MAX_WARNING_LENGTH)] : undefined;
  if (!enforce.length && decision.allowed) {
    count(env, 'validate', req, 'warned', []);
    return { uid: req.uid, allowed: true, ...(warnings ? { warnings } : {}) };
  }
  const lines = decision.denials.map(formatViolation);
  if (enforce.length) lines.push(`${why} before enforce policies ${policyList(enforce)} were evaluated: denied so that nothing unchecked is admitted; retry, or simplify the object`);
  count(env, 'validate', req, 'denied', []);
  return { uid: req.uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: lines.join('\n') }, ...(warnings ? { warnings } : {}) };
}

/**
 * What an Event about this request may name: the object it carries (oldObject on DELETE), by the object's own
 * metadata. Undefined, so no Event, when the object has no name yet (generateName), when the request's name,
 * namespace or kind disagree with the object's, or when the object names another namespace: a caller of /validate
 * chooses everything in the request, and the Event is a write our ServiceAccount makes.
 */
export function eventSubject(req: AdmissionRequest): EventSubject | undefined {
  const obj = (req.operation === 'DELETE' ? req.oldObject : req.object) as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown; uid?: unknown } } | null | undefined;
  const meta = obj?.metadata;
  if (!meta || typeof meta.name !== 'string' || !meta.name) return undefined;
  const namespace = req.namespace ?? '';
  if (!namespace || (meta.namespace !== undefined && meta.namespace !== namespace)) return undefined;
  if (req.name && req.name !== meta.name) return undefined;
  if (obj!.kind !== undefined && obj!.kind !== req.kind.kind) return undefined;
  const apiVersion = req.kind.group ? `${req.kind.group}/${req.kind.version}` : req.kind.version;
  if (obj!.apiVersion !== undefined && obj!.apiVersion !== apiVersion) return undefined;
  return { apiVersion, kind: req.kind.kind, namespace, name: meta.name, ...(typeof meta.uid === 'string' && meta.uid ? { uid: meta.uid } : {}) };
}

/** Decoding and timing around a handler: body (already parsed JSON) in, AdmissionReview out; throws AdmissionDecodeError. */
export function reviewFunction(name: WebhookName, handler: AdmissionHandler, env: Pick<AdmissionEnvironment, 'metrics' | 'now'>): (body: unknown) => AdmissionReviewResponse {
  const now = env.now ?? (() => performance.now() / 1000);
  const labels = [name] as const;
  return (body) => {
    const req = decodeAdmissionReview(body);
    const start = now();
    try {
      return encodeAdmissionReview(handler(req));
    } finally {
      env.metrics?.admissionDuration.observe(labels, now() - start);
    }
  };
}
