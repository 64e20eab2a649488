import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listFiles, loadCheckedPolicies, PolicyFileWatcher } from './load-files.js';
import { PolicyStore } from './store.js';

const policy = (name: string, mode: string, field = 'mode') => `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata: {name: ${name}}
spec:
  ${field}: ${mode}
`;

const modes = (store: PolicyStore) => Object.fromEntries(store.current().governance.map((p) => [p.name, p.mode]));

async function until(what: string, ok: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Writes a ConfigMap volume as the kubelet's atomic writer does: a timestamped dir, ..data swapped by rename, key links. */
function configMapVolume(mount: string) {
  let n = 0;
  let current: string | undefined;
  return (files: Record<string, string>) => {
    const dir = `..2026_12_04_00_00_${String(++n).padStart(2, '0')}`;
    mkdirSync(join(mount, dir));
    for (const [k, v] of Object.entries(files)) writeFileSync(join(mount, dir, k), v);
    symlinkSync(dir, join(mount, '..data_tmp'));
    renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
    for (const k of Object.keys(files)) {
      try {
        symlinkSync(join('..data', k), join(mount, k));
      } catch {
        // the key's link exists already and follows ..data
      }
    }
    if (current) rmSync(join(mount, current), { recursive: true });
    current = dir;
    return (removedKey: string) => unlinkSync(join(mount, removedKey));
  };
}

test('ConfigMap volume: a swap with one broken key keeps that policy at its last good version and applies the rest; a removed key removes its policy', async () => {
  const mount = mkdtempSync(join(tmpdir(), 'kg-configmap-'));
  const write = configMapVolume(mount);
  write({ 'a.yaml': policy('a', 'audit'), 'x.yaml': policy('x', 'audit') });
  const store = new PolicyStore();
  const watcher = new PolicyFileWatcher({ paths: [mount], store, intervalMs: 20 });
  try {
    assert.equal(watcher.loaded(), false);
    const first = await watcher.reload();
    assert.equal(watcher.loaded(), true);
    assert.equal(first.applied, true);
    assert.deepEqual(modes(store), { a: 'audit', x: 'audit' }, 'the hidden ..data and timestamped directories are not read twice');
    assert.equal(store.current().governance[0]!.origin.file, join(mount, 'a.yaml'));
    watcher.start();

    write({ 'a.yaml': policy('a', 'enforce'), 'x.yaml': policy('x', 'enforce', 'mdoe') });
    await until('the new a', () => modes(store).a === 'enforce');
    assert.deepEqual(modes(store), { a: 'enforce', x: 'audit' });
    const [e] = store.lastErrors();
    assert.equal(e!.file, join(mount, 'x.yaml'));
    assert.equal(e!.line, 5);
    assert.equal(e!.path, 'spec.mdoe');

    const removeKey = write({ 'a.yaml': policy('a', 'enforce') + '# touched\n' });
    removeKey('x.yaml');
    await until('x removed', () => !('x' in modes(store)));
    assert.deepEqual(modes(store), { a: 'enforce' });
    assert.deepEqual(store.lastErrors(), []);
  } finally {
    watcher.stop();
    rmSync(mount, { recursive: true, force: true });
  }
});

test('a policy directory that disappears keeps what it gave (named as unreadable); one that comes back is read again', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kg-policies-'));
  const dir = join(root, 'policies');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a.yaml'), policy('a', 'enforce'));
  const store = new PolicyStore();
  const watcher = new PolicyFileWatcher({ paths: [dir], store });
  try {
    await watcher.reload();
    rmSync(dir, { recursive: true });
    const gone = await watcher.reload();
    assert.deepEqual(modes(store), { a: 'enforce' });
    assert.deepEqual(gone.kept, ['GovernancePolicy/a']);
    assert.match(gone.errors[0]!.message, /^cannot read: ENOENT/);
    assert.equal(gone.errors[0]!.file, dir);
    mkdirSync(dir);
    writeFileSync(join(dir, 'b.yaml'), policy('b', 'audit'));
    await watcher.reload();
    assert.deepEqual(modes(store), { b: 'audit' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('listFiles: directories recursively in sorted order, hidden entries skipped, the pattern inside directories only, unreadable paths named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'list-files-'));
  try {
    mkdirSync(join(dir, 'b'));
    mkdirSync(join(dir, '.hidden'));
    writeFileSync(join(dir, 'b', 'z.yaml'), '');
    writeFileSync(join(dir, 'a.json'), '');
    writeFileSync(join(dir, 'notes.txt'), '');
    writeFileSync(join(dir, '.hidden', 'x.yaml'), '');
    const r = await listFiles([dir, join(dir, 'notes.txt'), join(dir, 'missing')], /\.(ya?ml|json)$/i);
    assert.deepEqual(r.files, [join(dir, 'a.json'), join(dir, 'b', 'z.yaml'), join(dir, 'notes.txt')]);
    assert.deepEqual(r.errors, [{ path: join(dir, 'missing'), action: 'read', code: 'ENOENT' }]);
    assert.deepEqual((await listFiles([dir], /\.ya?ml$/i)).files, [join(dir, 'b', 'z.yaml')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadCheckedPolicies: parse errors first; a set that parses is cross-checked as the store does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'checked-'));
  try {
    writeFileSync(join(dir, 'a.yaml'), policy('same', 'enforce'));
    writeFileSync(join(dir, 'b.yaml'), policy('same', 'audit'));
    const dup = await loadCheckedPolicies([dir]);
    assert.equal(dup.policies.length, 2);
    assert.equal(dup.errors.length, 1);
    assert.match(dup.errors[0]!.message, /duplicate policy name/);
    writeFileSync(join(dir, 'c.yaml'), policy('broken', 'enforce', 'nope'));
    const broken = await loadCheckedPolicies([dir]);
    assert.ok(broken.errors.length >= 1);
    assert.ok(broken.errors.every((e) => e.file.endsWith('c.yaml')), JSON.stringify(broken.errors));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
