import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReviewTimeout } from './serve.js';

test('--review-timeout takes a Go duration above 0 and at most 10s', () => {
  assert.equal(parseReviewTimeout('500ms'), 500);
  assert.equal(parseReviewTimeout('1s'), 1000);
  assert.equal(parseReviewTimeout('1.5s'), 1500);
  assert.throws(() => parseReviewTimeout('0s'), /--review-timeout "0s" must be above 0 and at most 10s/);
  assert.throws(() => parseReviewTimeout('1m'), /at most 10s/);
  assert.throws(() => parseReviewTimeout('fast'), /is not a duration/);
});
