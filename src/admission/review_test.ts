import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admissionReviewText } from '../wire/admission-review.js';
import { decodeAdmissionReview, encodeAdmissionReview, type AdmissionResponse } from './review.js';

test('admissionReviewText gives the value JSON.stringify gives, with or without a patch, and falls back on a patch that is not base64', () => {
  const patch = Buffer.from(JSON.stringify([{ op: 'add', path: '/metadata/labels/a~1b', value: 'é"\\' }])).toString('base64');
  const cases: AdmissionResponse[] = [
    { uid: 'u1', allowed: true },
    { uid: 'u2', allowed: true, patchType: 'JSONPatch', patch, auditAnnotations: { 'mutated-by': 'a,b' } },
    { uid: 'u"3', allowed: false, status: { code: 403, reason: 'Forbidden', message: 'no\n"quotes"' }, warnings: ['w'] },
    { uid: 'u4', allowed: true, patchType: 'JSONPatch', patch: 'not"base64\\' },
    { uid: 'u5', allowed: true, patchType: 'JSONPatch', patch: '' },
  ];
  for (const r of cases) {
    const review = encodeAdmissionReview(r);
    const text = admissionReviewText(review);
    assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(review)), text);
  }
  // The patch decodes back to the operations.
  const back = JSON.parse(admissionReviewText(encodeAdmissionReview(cases[1]!))).response.patch;
  assert.equal(JSON.parse(Buffer.from(back, 'base64').toString('utf8'))[0].value, 'é"\\');
});

test('decodeAdmissionReview keeps optional fields only when sent and filters userInfo.groups to strings', () => {
  const base = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' };
  const minimal = decodeAdmissionReview({ ...base, request: { uid: 'u', operation: 'CREATE', kind: { kind: 'Pod' } } });
  assert.deepEqual(minimal, { uid: 'u', kind: { group: '', version: '', kind: 'Pod' }, operation: 'CREATE', object: null, oldObject: null, dryRun: false });
  const request = {
    uid: 'u',
    operation: 'UPDATE',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    resource: { group: 'apps', version: 'v1', resource: 'deployments' },
    subResource: 'scale',
    name: 'n',
    namespace: 'ns',
    userInfo: { username: 'alice', groups: ['g', 7] },
    object: { a: 1 },
    oldObject: { a: 0 },
    dryRun: true,
  };
  // Everything sent comes back, except the group that is not a string.
  assert.deepEqual(decodeAdmissionReview({ ...base, request }), { ...request, userInfo: { username: 'alice', groups: ['g'] } });
  assert.throws(() => decodeAdmissionReview({ ...base, request: { uid: 'u', operation: 'CREATE', kind: { kind: 'Pod' }, name: 3 } }), /request.name must be a string/);
});
