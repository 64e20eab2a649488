import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldSupport, formatKubeVersion, HPA_TOLERANCE, kubeVersionAtLeast, MIN_KUBE_VERSION, parseKubeVersion } from './kube-version.js';

test('parseKubeVersion: major.minor, with v, a patch level or a server gitVersion; nothing else', () => {
  for (const [text, want] of [
    ['1.30', '1.30'],
    ['v1.33', '1.33'],
    ['1.35.2', '1.35'],
    ['v1.30.4-eks-a737599', '1.30'],
    ['v1.36.0-alpha.1+abc', '1.36'],
  ] as const) {
    assert.equal(formatKubeVersion(parseKubeVersion(text)!), want, text);
  }
  for (const bad of ['', '1', '1.', 'x.y', '1.30-eks', '1.30.1.2', 'v1.30.4-', `1.30.4-${'a'.repeat(65)}`]) assert.equal(parseKubeVersion(bad), undefined, bad);
});

test('the HPA tolerance field by version: absent before 1.33, behind a gate off by default in 1.33 and 1.34, on from 1.35', () => {
  const at = (v: string) => fieldSupport(HPA_TOLERANCE, parseKubeVersion(v)!);
  assert.deepEqual(['1.30', '1.32', '1.33', '1.34', '1.35', '1.40', '2.0'].map(at), ['absent', 'absent', 'gate-off-by-default', 'gate-off-by-default', 'on', 'on', 'on']);
  assert.equal(kubeVersionAtLeast(MIN_KUBE_VERSION, { major: 1, minor: 30 }), true);
  assert.equal(kubeVersionAtLeast({ major: 1, minor: 29 }, MIN_KUBE_VERSION), false);
});
