import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { parsePolicyText } from './parse.js';
import { readPlainYaml } from './plain-yaml.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What parsePolicyText takes from a text: each document with a value, by its number. */
const numbered = (docs: unknown[]) => docs.map((d, i) => [i + 1, d] as const).filter(([, d]) => d !== null && d !== undefined);

/** What parsePolicyText's `yaml` path reads, or undefined when `yaml` reports an error. */
function viaYaml(text: string) {
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  if (docs.some((d) => d.errors.length)) return undefined;
  return numbered(docs.map((d) => d.toJS({ maxAliasCount: 50 })));
}

function yamlFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) continue;
    if (statSync(p).isDirectory()) yamlFiles(p, out);
    else if (/\.(ya?ml|json)$/.test(name)) out.push(p);
  }
  return out;
}

const CASES: string[] = [
  // scalars of the core schema and their neighbours
  'a: 1\nb: -2\nc: +3\nd: 0o17\ne: 0x1F\nf: 1.5\ng: .5\nh: 1.\ni: 1e3\nj: -1.5E-2\nk: .inf\nl: -.Inf\nm: .nan\nn: 007\no: 1_000\np: 0b11\nq: 0x\nr: 1e\ns: +.5\n',
  'a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: nUll\ng: true\nh: True\ni: TRUE\nj: false\nk: yes\nl: on\nm: tRue\n',
  'a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\nc: 12:30\nd: 1:20:30\n',
  'a: "1"\nb: \'true\'\nc: "null"\nd: "a\\tb\\u00e9"\ne: \'it\'\'s\'\nf: "x\\\ny"\n',
  'a: 123456789012345678901234567890\nb: 0.1000\nc: -0\nd: 0x7fffffffffffffffff\n',
  // collections
  'a: {b: 1, c: [x, y, {z: 2}]}\nd: []\ne: {}\nf:\n  - 1\n  - - 2\n    - 3\n  - k: v\n    l: w\n',
  '[a: b, c]\n',
  '- a\n- b: c\n  d: e\n',
  'a: {b: c, "d": e,}\n',
  // strings
  'a: plain text with: colon inside\nb: x #comment\nc: "#not comment"\nd: a#b\n',
  'a: multi\n  line\n  plain\nb: "multi\n  line quoted"\n',
  'a: |\n  line 1\n  line 2\nb: |-\n  strip\nc: |+\n  keep\n\nd: >\n  folded\n  text\n\n  para\ne: >-\n  x\nf: |2\n    indented\n',
  'a: |\n  x\n\n\n',
  'description: "CEL: self.spec.replicas <= 10 && has(self.metadata.labels)"\n',
  // documents
  '',
  '# only a comment\n',
  '---\na: 1\n',
  'a: 1\n---\n',
  'a: 1\n---\n---\nb: 2\n',
  '# c\n---\na: 1\n---\n# c2\n---\nb: 2\n',
  '--- a: 1\n',
  '---\n...\n---\na: 1\n',
  '%YAML 1.1\n---\na: yes\n',
  '%YAML 1.2\n---\na: 1\n',
  // keys
  '~: a\n',
  'null: a\n',
  ': a\n',
  '1: a\n2.50: b\ntrue: c\n',
  '[a, b]: c\n',
  '{a: b}: c\n',
  '? a\n: b\n',
  '__proto__: {x: 1}\nb: 2\n',
  '<<: {x: 1}\nb: 2\n',
  // tags, anchors, aliases
  'a: !!str 1\n',
  'a: !!int "1"\n',
  'a: ! 1\n',
  'a: !local x\n',
  'a: &x 1\nb: *x\n',
  'a: &x [1, 2]\nb: *x\n',
  // errors
  'a: 1\na: 2\n',
  'a: 1\n"a": 2\n',
  'a: [1, 2\n',
  'a: "unterminated\n',
  'a:\n\t- 1\n',
  'a: b: c\n',
  'a:\n  b: 1\n c: 2\n',
  '- a\nb: c\n',
  `${'k'.repeat(1100)}: v\n`,
  'a: }\n',
  'a: @x\n',
  'a: `x\n',
  '{"json": [1, 2.5, true, null, "s"]}\n',
  // spacing and indentation
  'a:b\n', 'a: - b\n', '\ufeffa: 1\n', 'a: 1\r\nb: 2\r\n', 'a:\n- 1\n- 2\n', 'a: 1 # c\n#d\n', '- a\n -b\n', 'a: "x"y\n',
  "a: 'x' # c\n", 'a: [1, 2] x\n', 'a: {b}\n', 'a: {b: }\n', '"a" : 1\n', 'a : 1\n', 'a:    \n  b: 1\n', 'a: \t1\n', '\ta: 1\n',
  'a:\n  - b\n  -c\n', '- \n- a\n', 'a:\n  b: 1\n  c:\n    - d\n    - e: f\n      g: h\n', 'a: 1\n b: 2\n', 'a:\n  b\n', 'a:\n    b: 1\n  c: 2\n',
  'a: x\n\n\nb: y\n', 'a: "\\x41"\n', 'a: "\\q"\n', "a: '\\q'\n", 'a: -\n', 'a: - \n', '- - a\n  - b\n', 'a: [b, [c, d]]\n', 'a: {b: {c: d}}\n',
  'a: x:y\n', 'a: http://x:80/y?z=1#f\n', 'a: -1x\n', 'a: 1 2\n', 'a: [1 2]\n', 'a: {b c: d}\n', '"a\nb": 1\n', 'a: |\n x\n  y\n', 'a: |\n  x\n y\n',
  'a: >\n  x\n\n  y\n   z\n', 'a: |1\n  x\n', 'a: |0\n  x\n', 'a: |\n\t x\n', '- |\n  x\n- y\n', 'a:\n  - |\n    x\n  - y\n',
];

test('readPlainYaml gives what yaml gives, or nothing (edge cases)', () => {
  let fast = 0;
  for (const text of CASES) {
    const mine = readPlainYaml(text);
    if (mine === undefined) continue;
    fast++;
    assert.deepStrictEqual(numbered(mine), viaYaml(text), `text: ${JSON.stringify(text)}`);
  }
  // Most of the plain cases are read fast; the test would prove nothing if none were.
  assert.ok(fast >= 25, `only ${fast} of ${CASES.length} cases took the fast reader`);
});

test('readPlainYaml gives what yaml gives on every YAML and JSON file of the repository', () => {
  const files = [...yamlFiles(join(ROOT, 'policies')), ...yamlFiles(join(ROOT, 'examples')), ...yamlFiles(join(ROOT, 'test')), ...yamlFiles(join(ROOT, 'charts'))];
  let fast = 0;
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const mine = readPlainYaml(text);
    if (mine === undefined) continue;
    fast++;
    assert.deepStrictEqual(numbered(mine), viaYaml(text), f);
  }
  assert.ok(files.length > 20 && fast > files.length / 2, `${fast} of ${files.length} files read fast`);
});

test('readPlainYaml gives what yaml gives on sample policies with random edits (seeded, bounded)', () => {
  const seeds = [...yamlFiles(join(ROOT, 'policies/scaling')), ...yamlFiles(join(ROOT, 'policies/governance'))].map((f) => readFileSync(f, 'utf8'));
  let x = 20261204;
  const rnd = (n: number) => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x % n);
  const pieces = [':', '-', ' ', '  ', '\n', '[', ']', '{', '}', '"', "'", '#', '|', '>', ',', '\t', 'a', '1', '.', '---\n', '\n  ', '\n- '];
  let fast = 0;
  for (let it = 0; it < 1500; it++) {
    let t = seeds[rnd(seeds.length)]!;
    for (let k = 0, m = 1 + rnd(3); k < m; k++) {
      const p = rnd(t.length + 1);
      const op = rnd(3);
      t = op === 0 ? t.slice(0, p) + pieces[rnd(pieces.length)] + t.slice(p) : op === 1 ? t.slice(0, p) + t.slice(p + 1 + rnd(3)) : t.slice(0, p) + pieces[rnd(pieces.length)] + t.slice(p + 1);
    }
    const mine = readPlainYaml(t);
    if (mine === undefined) continue;
    fast++;
    assert.deepStrictEqual(numbered(mine), viaYaml(t), `text: ${JSON.stringify(t)}`);
  }
  assert.ok(fast > 300, `only ${fast} edited texts took the fast reader`);
});

test('parsePolicyText gives the same policies and errors with and without the fast reader', () => {
  const show = (x: unknown) => inspect(x, { depth: 50 });
  const texts = yamlFiles(join(ROOT, 'policies')).map((f) => [f, readFileSync(f, 'utf8')] as const);
  const good = texts.find(([f]) => f.includes('scaling'))!;
  // Broken variants of a real file: a schema error in the second document, a syntax error, a duplicate key.
  const variants: (readonly [string, string])[] = [
    ...texts,
    ['two.yaml', `${good[1]}\n---\n${good[1].replace(/kind: ScalingPolicy/, 'kind: ScalingPolicy\nbogus: 1')}`],
    ['syntax.yaml', `${good[1]}\n---\na: [1,\n`],
    ['dup.yaml', good[1].replace(/^kind: ScalingPolicy$/m, 'kind: ScalingPolicy\nkind: ScalingPolicy')],
    ['empty.yaml', ''],
    ['trailing.yaml', `${good[1]}\n---\n`],
  ];
  for (const [file, text] of variants) {
    assert.equal(show(parsePolicyText(text, file)), show(parsePolicyText(text, file, { fastPath: false })), file);
  }
  const r = parsePolicyText(variants.find(([f]) => f === 'two.yaml')![1], 'two.yaml');
  assert.ok(r.errors.some((e) => e.document! > 1 && e.line !== undefined && /bogus/.test(e.path)), show(r.errors));
});
