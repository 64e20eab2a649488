import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { lint } from './lint.js';

function sink() {
  let text = '';
  return {
    stream: new Writable({
      write(c, _e, cb) {
        text += String(c);
        cb();
      },
    }),
    text: () => text,
  };
}

test('governor lint refuses a pattern RE2 cannot run, with file, line, path and what to use instead', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lint-'));
  writeFileSync(
    join(dir, 'tags.yaml'),
    'apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: tags}\nspec:\n  labels:\n    team: {pattern: "^(?!default$)[a-z-]+$"}\n',
  );
  const out = sink();
  const err = sink();
  assert.equal(await lint([dir], out.stream, err.stream), 1);
  assert.match(err.text(), /tags\.yaml.*:6.*spec\.labels\.team\.pattern: invalid regular expression: lookahead \(\?!…\) is not supported: patterns run on RE2 \(linear time\); use an allowed list or split the rule/);
  assert.equal(out.text(), '');
});
