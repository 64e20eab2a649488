// Admission of the governor.io policy kinds: what the CRD schema and its CEL rules cannot check (regex validity,
// quantities, label syntax, rule names) is checked here by the loaders' own compile, with `governor lint`'s messages.
import { compileObject } from '../policy/parse.js';
import { formatPolicyError } from '../policy/types.js';
import type { Logger } from '../observability/log.js';
import type { AdmissionHandler } from './handlers.js';
import type { AdmissionRequest } from './review.js';

export const POLICY_API_GROUP = 'governor.io';
/** The denial lists at most this many problems (the API server shows the whole message to the user). */
export const MAX_POLICY_ERRORS = 20;
/** Each line is cut here: a message may quote the user's value (an unknown rule name of any length). */
export const MAX_LINE = 2048;

/** The "file" of a cluster object in messages, as the cluster loader names it: cluster:<Kind>/<namespace>/<name>. */
export function clusterObjectFile(kind: string, namespace: string | undefined, name: string | undefined): string {
  return `cluster:${kind}/${namespace ? `${namespace}/` : ''}${name ?? ''}`;
}

/** The fields a policy document may carry (as src/policy/load-cluster.ts toPolicyDocument: server metadata dropped). */
function policyDocument(o: any, req: AdmissionRequest): object {
  const m = o?.metadata ?? {};
  // generateName: the name is not known yet; a placeholder keeps the schema's name check from failing on it.
  const name = m.name || req.name || (m.generateName ? `${m.generateName}x` : undefined);
  return {
    apiVersion: o?.apiVersion,
    kind: o?.kind,
    metadata: {
      name,
      ...(m.namespace || req.namespace ? { namespace: m.namespace || req.namespace } : {}),
      ...(m.labels ? { labels: m.labels } : {}),
      ...(m.annotations ? { annotations: m.annotations } : {}),
    },
    spec: o?.spec,
  };
}

/** The denial for a policy object, or undefined when it compiles. Pure: the same answer as `governor lint`. */
export function reviewPolicyObject(req: AdmissionRequest): { code: number; message: string } | undefined {
  const o = req.object as any;
  const file = clusterObjectFile(req.kind.kind, req.namespace, o?.metadata?.name || req.name);
  // compileObject applies schema defaults in place: validate a copy of what the API server will store.
  const r = compileObject(structuredClone(policyDocument(o, req)), { file, document: 1 });
  if (!r.errors.length) return undefined;
  const lines = r.errors.slice(0, MAX_POLICY_ERRORS).map((e) => {
    const l = formatPolicyError(e);
    return l.length > MAX_LINE ? `${l.slice(0, MAX_LINE - 3)}...` : l;
  });
  if (r.errors.length > MAX_POLICY_ERRORS) lines.push(`... and ${r.errors.length - MAX_POLICY_ERRORS} more`);
  return { code: 422, message: `invalid ${req.kind.kind}:\n${lines.join('\n')}` };
}

/**
 * Sends CREATE and UPDATE of governor.io objects to the policy check and everything else to `next` (the workload
 * validation), so both share the /validate path the webhook configuration names.
 */
export function withPolicyValidation(next: AdmissionHandler, log?: Logger): AdmissionHandler {
  return (req) => {
    if (req.kind.group !== POLICY_API_GROUP) return next(req);
    // Status writes and deletions are never refused: a broken policy can always be removed.
    if ((req.subResource !== undefined && req.subResource !== '') || (req.operation !== 'CREATE' && req.operation !== 'UPDATE')) return { uid: req.uid, allowed: true };
    const denial = reviewPolicyObject(req);
    if (!denial) return { uid: req.uid, allowed: true };
    log?.info({ uid: req.uid, operation: req.operation, kind: req.kind.kind, namespace: req.namespace, name: req.name, user: req.userInfo?.username, dryRun: req.dryRun }, 'policy object refused');
    return { uid: req.uid, allowed: false, status: { code: denial.code, reason: 'Invalid', message: denial.message } };
  };
}
