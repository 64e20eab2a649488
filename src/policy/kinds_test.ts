import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKindRef, expandPod, BUILTIN_KINDS, WORKLOAD_KINDS } from './kinds.js';

test("kind refs parse as Kyverno's: Kind, group/Kind, version/Kind for the core group, group/version/Kind", () => {
  const parsed = (t: string) => {
    const r = parseKindRef(t);
    return typeof r === 'string' ? r : `${r.group ?? '*'}|${r.version ?? '*'}|${r.kind}`;
  };
  assert.equal(parsed('Deployment'), 'apps|*|Deployment', 'a built-in kind keeps its own group');
  assert.equal(parsed('Widget'), '*|*|Widget', 'any other kind in any group');
  assert.equal(parsed('v1/Pod'), '|v1|Pod');
  assert.equal(parsed('core/Service'), '|*|Service');
  assert.equal(parsed('networking.k8s.io/Ingress'), 'networking.k8s.io|*|Ingress');
  assert.equal(parsed('example.com/v1beta1/Widget'), 'example.com|v1beta1|Widget');
  assert.equal(parsed('core/v1/ConfigMap'), '|v1|ConfigMap');
  for (const bad of ['*', 'apps/*', 'Bad_Kind', 'a/b/c/D', 'Example.COM/Widget', 'apps/version/Deployment', '']) assert.equal(typeof parseKindRef(bad), 'string', bad);
});

test('Pod stands for the pod controllers too (autogen); the table knows every workload kind', () => {
  const refs = expandPod([parseKindRef('Pod') as never]);
  assert.deepEqual(refs.map((r) => r.kind).sort(), [...WORKLOAD_KINDS].sort());
  for (const k of WORKLOAD_KINDS) assert.ok(BUILTIN_KINDS[k]?.namespaced, k);
  assert.equal(BUILTIN_KINDS.Namespace!.namespaced, false);
});
