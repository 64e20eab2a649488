import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { parsePolicyText } from '../policy/parse.js';
import { PolicyStore } from '../policy/store.js';
import { createLogger } from './log.js';
import { createMetrics } from './metrics.js';
import { policyReloadReporter, recordPolicyState } from './policy-state.js';

const GOOD = (name: string) => `apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: ${name}}\nspec: {mode: audit}\n`;
// two bad fields in one document, and a document that does not parse
const BAD = `apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: bad}\nspec: {mdoe: audit, labls: {}}\n---\nmetadata: {name: x\n`;

function setup() {
  let now = 1_700_000_000_000;
  const store = new PolicyStore(() => now);
  const metrics = createMetrics({ defaultMetrics: false });
  const lines: any[] = [];
  const log = createLogger({ level: 'info', destination: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }) });
  const report = policyReloadReporter(log, metrics);
  store.onChange(() => recordPolicyState(metrics, store));
  const offer = (text: string) => {
    const r = parsePolicyText(text, 'policies/p.yaml');
    report('files', store.offer(r.policies, r.errors), 1);
  };
  return { store, metrics, lines, offer, tick: (ms: number) => (now += ms) };
}

test('the error gauge counts invalid documents by kind, the timestamp marks the last clean read', async () => {
  const { metrics, offer, tick } = setup();
  offer(GOOD('a'));
  let text = await metrics.registry.metrics();
  assert.match(text, /governor_policy_load_errors\{source="files",kind="GovernancePolicy"\} 0/);
  assert.match(text, /governor_policy_last_load_success_timestamp_seconds\{source="files"\} 1700000000\n/);
  tick(60_000);
  offer(GOOD('a') + '---\n' + BAD);
  text = await metrics.registry.metrics();
  assert.match(text, /governor_policy_load_errors\{source="files",kind="GovernancePolicy"\} 1/, 'one document with two bad fields is one');
  assert.match(text, /governor_policy_load_errors\{source="files",kind="unknown"\} 1/);
  assert.match(text, /governor_policy_last_load_success_timestamp_seconds\{source="files"\} 1700000000\n/, 'unchanged by a read with errors');
  assert.match(text, /governor_policies_loaded\{kind="GovernancePolicy"\} 1/);
  assert.match(text, /governor_policy_reloads_total\{result="partial"\} 1/);
  tick(60_000);
  offer(GOOD('a'));
  text = await metrics.registry.metrics();
  assert.match(text, /governor_policy_load_errors\{source="files",kind="GovernancePolicy"\} 0/);
  assert.match(text, /governor_policy_last_load_success_timestamp_seconds\{source="files"\} 1700000120\n/);
});

test('each invalid document is logged with file, line and path once, not on every re-read', () => {
  const { lines, offer } = setup();
  offer(GOOD('a') + '---\n' + BAD);
  const errors = lines.filter((l) => /^invalid policy:/.test(l.msg));
  assert.equal(errors.length, 3);
  const typo = errors.find((l) => l.path === 'spec.mdoe');
  assert.deepEqual({ source: typo.source, file: typo.file, line: typo.line, document: typo.document, policy: typo.policy }, { source: 'files', file: 'policies/p.yaml', line: 9, document: 2, policy: 'GovernancePolicy/bad' });
  assert.ok(errors.some((l) => l.document === 3 && l.line === 12 && /YAML syntax/.test(l.msg)));
  lines.length = 0;
  offer(GOOD('a') + '---\n' + BAD);
  assert.equal(lines.filter((l) => /^invalid policy:/.test(l.msg)).length, 0);
  assert.equal(lines.at(-1).msg, 'policies loaded; invalid documents still left out');
  offer(GOOD('a'));
  assert.equal(lines.at(-1).msg, 'policies loaded');
  assert.equal(lines.at(-1).fixed, 3);
});
