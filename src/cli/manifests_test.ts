import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { manifestPieces, parsePiece, type LoadedObject, type ManifestError } from './manifests.js';

async function* chunked(text: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

async function read(text: string, size: number, maxBytes?: number): Promise<{ objects: LoadedObject[]; errors: ManifestError[]; documents: number }> {
  const objects: LoadedObject[] = [];
  const errors: ManifestError[] = [];
  let next = 1;
  for await (const piece of manifestPieces(chunked(text, size), maxBytes)) {
    const r = parsePiece('f.yaml', piece, next);
    next += r.documents;
    objects.push(...r.objects);
    errors.push(...r.errors);
  }
  return { objects, errors, documents: next - 1 };
}

const STREAM = [
  '# leading comment\n%YAML 1.2\n---\na: 1\n',
  '---\n',
  '--- {b: 2}\n---\n',
  'c: |\n  text\n  --- not a marker (indented)\nd: 4\n...\n',
  '%YAML 1.2\n---\ne: 5\r\n',
  '---\n# comment only\n',
  '---\nkind: List\napiVersion: v1\nitems: [{f: 6}, {g: 7}]\n',
  '---\n{"h": 8}\n',
].join('');

test('the stream is cut into the documents a parse of the whole text gives, wherever the chunks end', async () => {
  const whole = parseAllDocuments(STREAM) as unknown as { toJS(): unknown; errors: unknown[] }[];
  assert.ok(whole.every((d) => d.errors.length === 0));
  const expected = whole.flatMap((d, i) => {
    const o = d.toJS() as any;
    if (o === null || o === undefined) return [];
    return (o.kind === 'List' ? o.items : [o]).map((x: unknown) => [i + 1, x]);
  });
  for (const size of [1, 2, 3, 5, 7, 64, STREAM.length]) {
    const r = await read(STREAM, size);
    assert.deepEqual(r.errors, [], `chunks of ${size}`);
    assert.equal(r.documents, whole.length, `chunks of ${size}: documents`);
    assert.deepEqual(r.objects.map((o) => [o.document, o.object]), expected, `chunks of ${size}`);
  }
});

test('a broken document is reported with its line and column in the file; the documents around it are read', async () => {
  const text = 'a: 1\n---\nb: [1, 2\nc: 3\n---\nd: 4\n';
  const r = await read(text, 4);
  assert.deepEqual(r.objects.map((o) => [o.document, o.line, o.object]), [[1, 1, { a: 1 }], [3, 5, { d: 4 }]]);
  assert.equal(r.errors.length, 1);
  const e = r.errors[0]!;
  assert.equal(e.document, 2);
  assert.ok(e.line >= 3 && e.line <= 5, `line ${e.line}`);
  assert.match(e.message, /^YAML syntax: /);
});

test('a document over the size limit is an error of its own, never held whole; the next one is read', async () => {
  const big = `x: ${'y'.repeat(5000)}\nz: ${'w'.repeat(5000)}\n`;
  const r = await read(`a: 1\n---\n${big}---\nb: 2\n`, 100, 4096);
  assert.deepEqual(r.objects.map((o) => o.object), [{ a: 1 }, { b: 2 }]);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.document, 2);
  assert.equal(r.errors[0]!.line, 2);
  assert.match(r.errors[0]!.message, /document too large/);
  assert.deepEqual(r.objects.map((o) => o.line), [1, 5]);
});
