import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { GovernanceEngine } from '../governance/engine.js';
import { policy } from '../governance/testing.js';
import { FakeEventRecorder } from '../kube/events.js';
import { StaticNamespaces } from '../kube/namespaces.js';
import { createLogger } from '../observability/log.js';
import { validateHandler, type AdmissionEnvironment } from './handlers.js';
import type { AdmissionRequest } from './review.js';

function env(spec: string) {
  const lines: string[] = [];
  const sink = new Writable({ write: (c, _e, cb) => (lines.push(...String(c).split('\n').filter(Boolean)), cb()) });
  const engine = new GovernanceEngine([policy('p', spec)]);
  const events = new FakeEventRecorder();
  const e: AdmissionEnvironment = { engine: () => engine, namespaces: new StaticNamespaces(), events, log: createLogger({ level: 'info', destination: sink }) };
  return { handler: validateHandler(e), lines, events };
}

function request(containers: number, name = 'web'): AdmissionRequest {
  return {
    uid: 'u',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    operation: 'CREATE',
    namespace: 'shop',
    name,
    object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { template: { spec: { containers: Array.from({ length: containers }, (_, i) => ({ name: `c${i}`, resources: { limits: { cpu: '5' } } })) } } } },
  };
}

test('200 audit violations: 20 warnings, the last counting every one not shown (kept and omitted)', () => {
  const { handler, lines, events } = env(`  mode: audit\n  resources:\n    max: {cpu: "4"}`);
  const r = handler(request(200));
  assert.equal(r.allowed, true);
  assert.equal(r.warnings!.length, 20);
  assert.equal(r.warnings!.at(-1), '... and 181 more policy warnings');
  assert.ok(r.auditAnnotations!.warnings!.length <= 2000);
  const logged = JSON.parse(lines.find((l) => l.includes('admitted with warnings'))!);
  assert.deepEqual(logged.rules, ['p/max-resources']);
  assert.equal(logged.violations, 200);
  assert.ok(events.events[0]!.message.split('\n').length <= 50);
});

test('a denial of 200 violations is 50 lines and a count; names from the request are clipped in the log', () => {
  const { handler, lines } = env(`  resources:\n    max: {cpu: "4"}`);
  const r = handler(request(200, 'n'.repeat(100_000)));
  assert.equal(r.allowed, false);
  const message = r.status!.message.split('\n');
  assert.equal(message.length, 51);
  assert.equal(message.at(-1), '… and 150 more violations');
  const logged = JSON.parse(lines.find((l) => l.includes('"denied"'))!);
  assert.equal(logged.violations, 200);
  assert.ok(logged.name.length <= 253);
  for (const l of lines) assert.ok(l.length < 4_000, `a log line of ${l.length} characters`);
});

test('a denial answers with the reason and code of its first violation when that is a CEL validation with a reason (as ValidatingAdmissionPolicy), else 403 Forbidden', () => {
  const status = (spec: string, containers = 1) => env(spec).handler(request(containers)).status;
  const validations = (first: string) => `  match: {kinds: [Deployment]}
  validations:
    - {name: a, expression: "false", message: first${first}}
    - {name: b, expression: "false", message: second, reason: RequestEntityTooLarge}
`;
  assert.deepEqual(pick(status(validations(', reason: Invalid'))), { code: 422, reason: 'Invalid' });
  assert.deepEqual(pick(status(validations(', reason: Unauthorized'))), { code: 401, reason: 'Unauthorized' });
  // The first denial has no reason: the webhook's own answer, whatever the later ones say.
  assert.deepEqual(pick(status(validations(''))), { code: 403, reason: 'Forbidden' });
  // A built-in rule's violation comes first (the policy's rules before its validations).
  assert.deepEqual(pick(status(`  match: {kinds: [Deployment]}\n  resources: {max: {cpu: "4"}}\n  validations: [{expression: "false", reason: RequestEntityTooLarge}]\n`)), { code: 403, reason: 'Forbidden' });
  assert.deepEqual(pick(status(`  match: {kinds: [Deployment]}\n  validations: [{expression: "false", reason: RequestEntityTooLarge}]\n`)), { code: 413, reason: 'RequestEntityTooLarge' });
  // An expression that cannot be evaluated is an error, not a failure: the reason is not used (VAP applies it to failures).
  assert.deepEqual(pick(status(`  match: {kinds: [Deployment]}\n  validations: [{expression: "object.spec.nope == 1", reason: Invalid}]\n`)), { code: 403, reason: 'Forbidden' });
});

function pick(s: { code?: number; reason?: string } | undefined) {
  return { code: s?.code, reason: s?.reason };
}
