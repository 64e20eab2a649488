import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadManifests, parseNamespaceFlag, review, ReviewUsageError } from './review.js';
import { REPO, runCli, sink } from './cli_harness.js';

const POLICIES = join(REPO, 'policies/governance');

const MANIFESTS = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {tier: prod, data-classification: internal, migrations: enabled}
  annotations: {cost-center: CC-1001}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web, owner: storefront}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}]}
`;

test('review prints the mutated objects (Namespace labels from the inputs) and exits 0 when nothing is denied', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'review-'));
  writeFileSync(join(dir, 'app.yaml'), MANIFESTS);
  const out = sink();
  const err = sink();
  const code = await review({ policies: [POLICIES], manifests: [join(dir, 'app.yaml')] }, out.stream, err.stream);
  assert.equal(code, 0, err.text());
  const docs = parseAllDocuments(out.text()) as any[];
  assert.equal(docs.length, 3, 'every input object is printed, in order');
  const dep = docs[1].toJS();
  assert.equal(dep.metadata.labels['data-classification'], 'internal');
  // compliance-tags names Pod: its fromNamespace default goes into the pod template only (issue 13).
  assert.equal(dep.spec.template.metadata.annotations['cost-center'], 'CC-1001');
  assert.equal(dep.metadata.annotations, undefined);
  assert.deepEqual(dep.spec.template.spec.containers[0].resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
  assert.deepEqual(docs[2].toJS().spec, { ports: [{ port: 80 }] });
  assert.match(err.text(), /3 object\(s\) reviewed against 7 GovernancePolicy: 0 denied, 0 with warnings, 1 mutated/);
});

test('review exits 1 and lists each violation when something would be denied; --namespace-labels stands in for Namespace objects', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'review-'));
  writeFileSync(join(dir, 'bad.yaml'), `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec: {template: {spec: {containers: [{name: a, image: a, resources: {limits: {memory: 20Gi}}}]}}}\n`);
  const err = sink();
  const code = await review(
    { policies: [POLICIES], manifests: [dir], namespace: 'shop', namespaceLabels: ['shop=tier=prod,data-classification=pii'], output: 'json' },
    sink().stream,
    err.stream,
  );
  assert.equal(code, 1);
  const t = err.text();
  assert.match(t, /bad\.yaml \(document 1\) Deployment shop\/api: denied\n/);
  assert.match(t, /  spec\.template\.spec\.containers\[0\]\.resources\.limits\.memory must be at most 8Gi \(is 20Gi\) \(policy team-defaults, rule max-resources\)/);
  assert.match(t, /  metadata\.labels\.owner is required .*rule require-labels/);
  assert.match(t, /Deployment shop\/api: warnings\n  \[audit\]|Deployment shop\/api: warnings\n/);
});

test('namespace flags parse as NAMESPACE=key=value,...; bad flags and policies are usage errors', async () => {
  assert.deepEqual(parseNamespaceFlag('shop=tier=prod,team=a=b'), ['shop', { tier: 'prod', team: 'a=b' }]);
  assert.throws(() => parseNamespaceFlag('shop'), ReviewUsageError);
  assert.throws(() => parseNamespaceFlag('shop=tier'), ReviewUsageError);
  const dir = mkdtempSync(join(tmpdir(), 'review-'));
  writeFileSync(join(dir, 'p.yaml'), 'apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: x}\nspec: {labels: {a: {pattern: "("}}}\n');
  await assert.rejects(review({ policies: [dir], manifests: [dir] }, sink().stream, sink().stream), (e: unknown) => e instanceof ReviewUsageError && /spec\.labels\.a\.pattern: invalid regular expression/.test((e as Error).message));
});

test('review -o json: a ReviewReport with the verdict, the mutation and the findings (policy, rule, path, message, mode) per object', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'review-'));
  writeFileSync(join(dir, 'app.yaml'), MANIFESTS);
  writeFileSync(join(dir, 'bad.yaml'), `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec: {template: {spec: {containers: [{name: a, image: a, resources: {limits: {memory: 20Gi}}}]}}}\n`);
  const out = sink();
  const code = await review({ policies: [POLICIES], manifests: [join(dir, 'app.yaml'), join(dir, 'bad.yaml')], namespace: 'shop', output: 'json' }, out.stream, sink().stream);
  assert.equal(code, 1);
  const report = JSON.parse(out.text());
  assert.equal(report.kind, 'ReviewReport');
  assert.equal(report.allowed, false);
  assert.deepEqual(report.summary, { objects: 4, policies: 7, denied: 1, withWarnings: report.summary.withWarnings, mutated: report.summary.mutated });
  assert.deepEqual(
    report.results.map((r: any) => [r.object, r.allowed]),
    [
      [{ apiVersion: 'v1', kind: 'Namespace', namespace: 'shop', name: 'shop' }, true],
      [{ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' }, true],
      [{ apiVersion: 'v1', kind: 'Service', namespace: 'shop', name: 'web' }, true],
      [{ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'api' }, false],
    ],
  );
  const web = report.results[1];
  assert.equal(web.mutated, true);
  assert.ok(web.patch.length > 0);
  assert.deepEqual(web.mutatedObject.spec.template.spec.containers[0].resources.limits, { memory: '512Mi' });
  const api = report.results[3];
  assert.equal(api.file, join(dir, 'bad.yaml'));
  const memory = api.findings.find((f: any) => f.rule === 'max-resources' && f.path.endsWith('limits.memory'));
  assert.deepEqual(memory, {
    policy: 'team-defaults',
    rule: 'max-resources',
    path: 'spec.template.spec.containers[0].resources.limits.memory',
    message: memory.message,
    mode: 'enforce',
    status: 'fail',
    effect: 'deny',
  });
  assert.match(memory.message, /must be at most 8Gi/);
  for (const f of api.findings) for (const k of ['policy', 'rule', 'path', 'message', 'mode', 'effect']) assert.equal(typeof f[k], 'string', k);
});

test('governor review: exit 0 allowed, 1 denied, 2 for an unknown flag, a bad -o, an unreadable file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'review-'));
  writeFileSync(join(dir, 'app.yaml'), MANIFESTS);
  writeFileSync(join(dir, 'bad.yaml'), `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\nspec: {template: {spec: {containers: [{name: a, image: a}]}}}\n`);
  const ok = await runCli(['review', '--policies', POLICIES, join(dir, 'app.yaml')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(parseAllDocuments(ok.stdout).length, 3, 'the default output is still the mutated objects as YAML');
  const denied = await runCli(['review', '--policies', POLICIES, '-o', 'json', join(dir, 'app.yaml'), join(dir, 'bad.yaml')]);
  assert.equal(denied.code, 1);
  assert.equal(JSON.parse(denied.stdout).allowed, false);
  for (const args of [
    ['review', '--policies', POLICIES, '--bogus', join(dir, 'app.yaml')],
    ['review', '--policies', POLICIES, '-o', 'table', join(dir, 'app.yaml')],
    ['review', '--policies', POLICIES, join(dir, 'missing.yaml')],
    ['review', join(dir, 'app.yaml')],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('an unreadable manifest path is a usage error naming it; directories give their YAML and JSON files in order, stdin where "-" stands', async () => {
  const missing = join(mkdtempSync(join(tmpdir(), 'review-')), 'missing.yaml');
  await assert.rejects(review({ policies: [POLICIES], manifests: [missing] }, sink().stream, sink().stream), (e: unknown) => e instanceof ReviewUsageError && (e as Error).message === `cannot read ${missing}: ENOENT`);
  const dir = mkdtempSync(join(tmpdir(), 'review-'));
  writeFileSync(join(dir, 'b.json'), JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b', namespace: 'shop' } }));
  writeFileSync(join(dir, 'a.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\n');
  writeFileSync(join(dir, 'c.txt'), 'not a manifest');
  const objects = await loadManifests([dir, '-'], async () => 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s, namespace: shop}\n');
  assert.deepEqual(objects.map((o) => [o.file.replace(dir, '<dir>'), (o.object as any).metadata.name]), [['<dir>/a.yaml', 'a'], ['<dir>/b.json', 'b'], ['<stdin>', 's']]);
});

test('review -o json: a rule whose when does not hold is listed with effect skip, its condition and the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'review-'));
  writeFileSync(join(dir, 'pod.yaml'), `apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: platform}\nspec: {containers: [{name: c, image: nginx}]}\n`);
  const out = sink();
  const code = await review({ policies: [join(REPO, 'examples/policies/host-volumes.yaml')], manifests: [join(dir, 'pod.yaml')], output: 'json' }, out.stream, sink().stream);
  assert.equal(code, 0);
  const [r] = JSON.parse(out.text()).results;
  assert.equal(r.allowed, true);
  assert.deepEqual(
    r.findings.find((f: any) => f.rule === 'require-labels'),
    {
      policy: 'host-volumes',
      rule: 'require-labels',
      path: 'metadata.labels.owner',
      message: 'skipped: spec.labels.owner.when does not hold (no volume of type hostPath)',
      mode: 'enforce',
      status: 'skip',
      effect: 'skip',
      condition: 'spec.labels.owner.when',
    },
  );
  assert.deepEqual(r.findings.map((f: any) => f.rule).sort(), ['default-resources', 'require-annotations', 'require-labels']);
});
