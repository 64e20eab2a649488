// A fast reader for the plain YAML most policy files are (block and flow mappings, sequences, plain, quoted and block
// scalars), giving exactly the values the `yaml` library's YAML 1.2 core schema gives, or nothing: then the caller
// parses with `yaml`, which keeps the positions its errors need. `yaml` builds a full syntax tree with source
// positions for every node; js-yaml reads values directly, many times faster, which start-up with thousands of
// policies is made of.
import { FAILSAFE_SCHEMA, loadAll, Type, type State } from 'js-yaml';

/**
 * The plain-scalar types of `yaml`'s core schema (node_modules/yaml/dist/schema/core), with its regular expressions and
 * conversions. Their tags are private, so an explicit tag in a document (`!!int`) is unknown to js-yaml and the text
 * goes to `yaml`.
 */
const scalar = (name: string, test: RegExp, construct: (s: string) => unknown) =>
  new Type(`tag:kube-governor.local,2026:${name}`, { kind: 'scalar', resolve: (s: string | null) => s !== null && test.test(s), construct });
const CORE_SCHEMA = FAILSAFE_SCHEMA.extend({
  implicit: [
    new Type('tag:kube-governor.local,2026:null', { kind: 'scalar', resolve: (s: string | null) => s === null || /^(?:~|[Nn]ull|NULL)?$/.test(s), construct: () => null }),
    scalar('bool', /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (s) => s[0] === 't' || s[0] === 'T'),
    scalar('int-oct', /^0o[0-7]+$/, (s) => parseInt(s.substring(2), 8)),
    scalar('int', /^[-+]?[0-9]+$/, (s) => parseInt(s, 10)),
    scalar('int-hex', /^0x[0-9a-fA-F]+$/, (s) => parseInt(s.substring(2), 16)),
    scalar('float-nan', /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/, (s) => (s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY)),
    scalar('float-exp', /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/, (s) => parseFloat(s)),
    scalar('float', /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/, (s) => parseFloat(s)),
  ],
});

/**
 * What this reader leaves to `yaml`, found before reading: directives (`%YAML 1.1` changes the schema), document end
 * markers, tags, anchors and aliases (`yaml` bounds alias expansion), explicit `?` keys. A match inside a string only
 * sends the text the slow way.
 */
const NOT_PLAIN = /^%|^(?:\.\.\.|---[ \t]+[^\s#])|(?:^|[\s[{,])(?:[!&*]|\?(?:\s|$))/m;

/** `yaml` refuses an implicit key longer than 1024 characters, js-yaml does not: long lines go to `yaml`. */
function hasLongLine(text: string): boolean {
  for (let start = 0; start < text.length; ) {
    const end = text.indexOf('\n', start);
    if ((end < 0 ? text.length : end) - start > 1000) return true;
    if (end < 0) break;
    start = end + 1;
  }
  return false;
}

/** Keys `yaml` would spell differently: a null key is "" there ("null" here); a collection as a key. */
function keysAgree(v: unknown, depth: number): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (depth > 200) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!keysAgree(x, depth + 1)) return false;
    return true;
  }
  for (const k in v) {
    if (k === 'null' || k === '[object Object]' || k.includes(',')) return false;
    if (!keysAgree((v as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

/**
 * The documents of `text` as `yaml`'s `parseAllDocuments(text).map((d) => d.toJS())` gives them when it reports no
 * error, or undefined: the text uses something left to `yaml`, or does not read (duplicate keys, bad syntax).
 */
export function readPlainYaml(text: string): unknown[] | undefined {
  if (NOT_PLAIN.test(text) || hasLongLine(text)) return undefined;
  let docs: unknown[];
  // Nodes open and close as a stack: the line of each one's first character, and that character.
  const opened: { line: number; first: string }[] = [];
  let spans = false;
  const listener = (event: 'open' | 'close', st: State) => {
    if (event === 'open') {
      // The node starts at the first character after blanks, line breaks and comments.
      let i = st.position;
      let line = st.line;
      for (;;) {
        const c = text.charCodeAt(i);
        if (c === 0x20 || c === 0x09 || c === 0x0d) i++;
        else if (c === 0x0a) {
          i++;
          line++;
        } else if (c === 0x23) while (i < text.length && text.charCodeAt(i) !== 0x0a) i++;
        else break;
      }
      opened.push({ line, first: text[i] ?? '' });
      return;
    }
    const o = opened.pop();
    if (!o || st.line <= o.line) return;
    // Block collections and block scalars span lines. Quoted and plain scalars and flow collections stay on one line
    // here: `yaml` checks the indentation of their continuation lines, js-yaml does not.
    const flow = o.first === '[' || o.first === '{' || o.first === '"' || o.first === "'";
    const block = st.kind === 'scalar' ? o.first === '|' || o.first === '>' : !flow;
    if (!block) spans = true;
  };
  try {
    docs = loadAll(text, null, { schema: CORE_SCHEMA, listener });
  } catch {
    return undefined;
  }
  if (spans) return undefined;
  for (const d of docs) if (!keysAgree(d, 0)) return undefined;
  return docs;
}
