import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildInfo } from './version.js';

test('buildInfo: the version of package.json, the commit from GOVERNOR_COMMIT when set, the Node.js release', () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const saved = process.env.GOVERNOR_COMMIT;
  try {
    process.env.GOVERNOR_COMMIT = 'deadbeef';
    assert.deepEqual(buildInfo(), { version, commit: 'deadbeef', node: process.version });
    process.env.GOVERNOR_COMMIT = '';
    assert.deepEqual(buildInfo(), { version, node: process.version });
  } finally {
    if (saved === undefined) delete process.env.GOVERNOR_COMMIT;
    else process.env.GOVERNOR_COMMIT = saved;
  }
});
