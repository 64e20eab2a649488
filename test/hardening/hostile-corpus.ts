// Known catastrophic regular expressions (OWASP's ReDoS list and issue 11) with the inputs that make a backtracking
// engine explode, as a GovernancePolicy and AdmissionReview objects: shared by the hardening test and the before/after
// measurement (bench/hostile-review.ts).

export interface HostileCase {
  readonly name: string;
  readonly pattern: string;
  /** Repeated to build the input... */
  readonly pump: string;
  /** ...then this makes the match fail at the very end (the worst case for backtracking). */
  readonly suffix: string;
}

export const HOSTILE_CASES: readonly HostileCase[] = [
  { name: 'kebab-case (issue 11)', pattern: '^([a-z0-9]+-?)*$', pump: 'a', suffix: '!' },
  { name: 'nested plus', pattern: '^(a+)+$', pump: 'a', suffix: '!' },
  { name: 'overlapping alternation', pattern: '(a|aa)+$', pump: 'a', suffix: '!' },
  { name: 'adjacent plus in a group', pattern: '(x+x+)+y', pump: 'x', suffix: '' },
  { name: 'words and optional spaces', pattern: '^(\\w+\\s?)*$', pump: 'a', suffix: '!' },
  { name: 'repeated dot-star', pattern: '(.*a){12}$', pump: 'a', suffix: '!' },
  { name: 'optional alternation', pattern: '^(a|a?)+$', pump: 'a', suffix: '!' },
  { name: 'digits star', pattern: '^(\\d+)*$', pump: '1', suffix: 'x' },
  { name: 'OWASP Java class name', pattern: '^(([a-z])+.)+[A-Z]([a-z])+$', pump: 'a', suffix: '!' },
  {
    name: 'OWASP e-mail',
    pattern: '^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$',
    pump: 'a',
    suffix: '!',
  },
  { name: 'e-mail with dotted local part', pattern: '^([a-z0-9]+[._-]?)+@[a-z0-9-]+\\.[a-z]{2,}$', pump: 'a', suffix: '!' },
  { name: 'dotted host name', pattern: '^([a-z0-9]+(-[a-z0-9]+)*\\.?)+$', pump: 'a', suffix: '!' },
];

/** 28 and 40 characters (issue 11's figures), and 256 KiB: the most the API server accepts for all annotations. */
export const HOSTILE_LENGTHS = [28, 40, 256 * 1024] as const;

export function hostileValue(c: HostileCase, length: number): string {
  const body = c.pump.repeat(Math.ceil((length - c.suffix.length) / c.pump.length)).slice(0, Math.max(0, length - c.suffix.length));
  return body + c.suffix;
}

/** The annotation (and label) key a case's rule governs. */
export const keyOf = (i: number) => `hostile-${i}`;

/** One enforce GovernancePolicy with an annotation rule and a label rule per case, matching every Deployment. */
export function hostilePolicyYaml(name = 'hostile'): string {
  const rules = (indent: string) => HOSTILE_CASES.map((c, i) => `${indent}${keyOf(i)}: {pattern: ${JSON.stringify(c.pattern)}}`).join('\n');
  return `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: ${name}}
spec:
  mode: enforce
  match: {kinds: [Deployment]}
  labels:
${rules('    ')}
  annotations:
${rules('    ')}
`;
}

/** A Deployment carrying `value` under a case's key, as an annotation or a label, with pod template metadata. */
export function hostileDeployment(i: number, value: string, where: 'annotations' | 'labels' = 'annotations') {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'hostile', namespace: 'tenant', labels: { app: 'hostile' }, [where]: { ...(where === 'labels' ? { app: 'hostile' } : {}), [keyOf(i)]: value } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'hostile' } },
      template: { metadata: { labels: { app: 'hostile' } }, spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1' }] } },
    },
  };
}
