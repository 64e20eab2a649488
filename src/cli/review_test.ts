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

const DEPLOYMENT = (name: string, extra = '') =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${name}, namespace: shop, labels: {app: ${name}${extra}}}\nspec:\n  selector: {matchLabels: {app: ${name}}}\n  template:\n    metadata: {labels: {app: ${name}}}\n    spec: {containers: [{name: c, image: c:1}]}\n`;

test('review streams: a broken document in the middle is reported with file:line:col and its index, every other object is reviewed as if it were absent (exit 2)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'review-'));
  const good = [MANIFESTS, DEPLOYMENT('ok', ', owner: shop'), DEPLOYMENT('denied')];
  // The broken document replaced by an empty one: the same document numbers, nothing else to read.
  writeFileSync(join(dir, 'broken.yaml'), [good[0], good[1], 'metadata: {name: [unclosed\nspec: 1\n', good[2]].join('---\n'));
  writeFileSync(join(dir, 'reference.yaml'), [good[0], good[1], '# nothing\n', good[2]].join('---\n'));
  const run = async (file: string, output: 'json' | 'yaml') => {
    const out = sink();
    const err = sink();
    const code = await review({ policies: [POLICIES], manifests: [join(dir, file)], output }, out.stream, err.stream);
    return { code, out: out.text(), err: err.text() };
  };
  const broken = await run('broken.yaml', 'json');
  const reference = await run('reference.yaml', 'json');
  assert.equal(reference.code, 1, 'the reference denies one object');
  assert.equal(broken.code, 2, 'an unreadable document is an input error');
  const b = JSON.parse(broken.out);
  const r = JSON.parse(reference.out);
  assert.deepEqual(
    b.results.map((x: any) => ({ ...x, file: 'f' })),
    r.results.map((x: any) => ({ ...x, file: 'f' })),
  );
  assert.equal(b.results.length, 5);
  assert.deepEqual(b.summary, r.summary);
  assert.equal(b.allowed, false);
  const brokenFile = join(dir, 'broken.yaml');
  // Document 5 (after the Namespace, Deployment, Service and the second Deployment) spans lines 31-32; the parser finds
  // the unclosed sequence on line 32.
  assert.equal(b.errors.length, 1);
  assert.deepEqual({ file: b.errors[0].file, document: b.errors[0].document }, { file: brokenFile, document: 5 });
  assert.equal(b.errors[0].line, 32);
  assert.match(b.errors[0].message, /^YAML syntax: /);
  assert.match(broken.err, new RegExp(`governor review: ${brokenFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:32:\\d+ \\(document 5\\): YAML syntax: `));
  assert.match(broken.err, /5 object\(s\) reviewed .*; 1 document\(s\) could not be read\n$/);
  const yamlBroken = await run('broken.yaml', 'yaml');
  const yamlReference = await run('reference.yaml', 'yaml');
  assert.equal(yamlBroken.out, yamlReference.out, 'the same objects written, in order');
  assert.equal(parseAllDocuments(yamlBroken.out).length, 5);
});

test('review -o json of no object is still a ReviewReport; Namespace objects apply wherever they stand, from stdin too; -f names inputs like the arguments', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'review-'));
  writeFileSync(join(dir, 'empty.yaml'), '# nothing here\n');
  const empty = sink();
  assert.equal(await review({ policies: [POLICIES], manifests: [join(dir, 'empty.yaml')], output: 'json' }, empty.stream, sink().stream), 0);
  assert.deepEqual(JSON.parse(empty.text()), {
    apiVersion: 'governor.io/v1alpha1',
    kind: 'ReviewReport',
    results: [],
    allowed: true,
    summary: { objects: 0, policies: 7, denied: 0, withWarnings: 0, mutated: 0 },
  });
  // The Namespace last: its labels (tier: prod, data-classification) still reach the Deployment before it.
  const [ns, ...rest] = MANIFESTS.split('---\n');
  const reordered = [...rest, ns].join('---\n');
  const r = await runCli(['review', '--policies', POLICIES, '-o', 'json', '-f', '-'], { stdin: reordered });
  assert.equal(r.code, 0, r.stderr);
  const web = JSON.parse(r.stdout).results.find((x: any) => x.object.kind === 'Deployment');
  assert.equal(web.file, '<stdin>');
  assert.equal(web.mutatedObject.metadata.labels['data-classification'], 'internal');
  const none = await runCli(['review', '--policies', POLICIES]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no manifests/);
});

test('review holds one document at a time: memory does not grow with the number of objects', async () => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const dir = mkdtempSync(join(tmpdir(), 'review-'));
  const n = 2000;
  writeFileSync(join(dir, 'many.yaml'), Array.from({ length: n }, (_, i) => DEPLOYMENT(`svc-${i}`, i % 3 ? ', owner: shop' : '')).join('---\n'));
  const heap: number[] = [];
  let written = 0;
  const { Writable } = await import('node:stream');
  const out = new Writable({
    write(_c, _e, cb) {
      if (++written % 250 === 0) {
        gc();
        heap.push(process.memoryUsage().heapUsed);
      }
      cb();
    },
  });
  const code = await review({ policies: [POLICIES], manifests: [join(dir, 'many.yaml')], namespace: 'shop', namespaceLabels: ['shop=tier=prod,data-classification=internal'], output: 'json' }, out, sink().stream);
  assert.equal(code, 1);
  assert.equal(heap.length, Math.floor((n + 1) / 250), 'one sample per 250 writes (the report head, then one per result)');
  // Holding the objects, their results and mutated copies would add several MiB per thousand objects.
  const growth = Math.max(...heap.slice(1)) - heap[0]!;
  assert.ok(growth < 4 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(1)} MiB over ${n} objects`);
});
