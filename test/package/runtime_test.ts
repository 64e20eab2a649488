// One Node.js release everywhere: the image's base (Dockerfile), the image test's stand-in (hack/image-test.sh), the
// binary CI tests on (hack/ensure-node.sh), what package.json supports (engines) and the types it compiles against.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const read = (p: string) => readFileSync(join(repo, p), 'utf8');

test('the Dockerfile, the image test, CI, engines and @types/node name the same Node major', () => {
  const ensure = /^NODE_VERSION=(\d+)\.(\d+)\.(\d+)$/m.exec(read('hack/ensure-node.sh'));
  assert.ok(ensure, 'hack/ensure-node.sh pins NODE_VERSION=<major>.<minor>.<patch>');
  const major = ensure[1];
  assert.match(read('hack/ensure-node.sh'), /^NODE_INTEGRITY=sha512-[A-Za-z0-9+/]{86}==$/m, 'the package integrity is pinned');

  const froms = [...read('Dockerfile').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 1);
  for (const from of froms) assert.match(from, new RegExp(`^node:${major}-[a-z]+-slim(\\s|$)`), `Dockerfile FROM ${from}`);

  const baseRef = /^base_ref=(\S+)$/m.exec(read('hack/image-test.sh'))?.[1];
  assert.equal(baseRef, `docker.io/library/${froms[0]}`, 'the stand-in is imported under the name the Dockerfile pulls');
  assert.match(read('.ci/run'), /hack\/ensure-node\.sh/, 'CI runs the tests on the pinned node');

  const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };
  assert.equal(pkg.engines.node, `>=${major}`);
  assert.match(pkg.devDependencies['@types/node'], new RegExp(`^\\^${major}\\.`));
  const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version: string }> };
  assert.match(lock.packages['node_modules/@types/node'].version, new RegExp(`^${major}\\.`), 'the lockfile resolves @types/node to the same major');
});
