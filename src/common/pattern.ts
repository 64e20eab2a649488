// User-written regular expressions (policy `pattern` fields, schema patterns) compiled by RE2 (re2js): matching takes
// time linear in the input whatever the pattern, where JavaScript's backtracking RegExp can take exponential time.
import { RE2JS } from 're2js';

/** A compiled user pattern. `test` searches like RegExp.prototype.test: anchor with ^…$ to match the whole value. */
export interface Pattern {
  /** The pattern as written (for messages). */
  readonly source: string;
  test(s: string): boolean;
}

/** The pattern cannot be compiled; the message says why and, for constructs RE2 lacks, what to use instead. */
export class PatternError extends Error {
  override name = 'PatternError';
}

const RE2_NOTE = 'patterns run on RE2 (linear time)';

/**
 * Constructs JavaScript accepts and RE2 cannot run, found by a scan that skips escapes and character classes. Each is
 * refused with its own message: RE2's would be terse ("invalid named capture"), and re2js's translation of
 * JavaScript syntax would turn `\k<name>` into a literal rather than refuse it.
 */
function unsupported(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const n = source[i + 1];
      if (!inClass && n !== undefined && n >= '1' && n <= '9') return `backreference \\${n} is not supported: ${RE2_NOTE}; repeat the group, or list the allowed values`;
      if (!inClass && n === 'k' && source[i + 2] === '<') return `named backreference \\k<…> is not supported: ${RE2_NOTE}; repeat the group, or list the allowed values`;
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      // JavaScript closes a class at a ] right after [ or [^ ([^] is any character, translated below); RE2 reads
      // that ] as a literal, so an empty [] would silently change meaning.
      const negated = source[i + 1] === '^';
      if (source[i + (negated ? 2 : 1)] === ']') {
        if (!negated) return 'empty character class [] never matches in JavaScript and is read differently by RE2; write \\] for a literal ]';
        i += 2;
      } else inClass = true;
    } else if (c === '(' && source[i + 1] === '?') {
      const a = source[i + 2];
      const b = source[i + 3];
      if (a === '=' || a === '!') return `lookahead (?${a}…) is not supported: ${RE2_NOTE}; use an allowed list or split the rule`;
      if (a === '<' && (b === '=' || b === '!')) return `lookbehind (?<${b}…) is not supported: ${RE2_NOTE}; use an allowed list or split the rule`;
      if (a === '>') return `atomic group (?>…) is not supported: ${RE2_NOTE}, which never backtracks; write the group without (?>`;
    } else if ((c === '+' || c === '*' || c === '?' || c === '}') && source[i + 1] === '+') {
      return `possessive quantifier ${c}+ is not supported: ${RE2_NOTE}, which never backtracks; write ${c} alone`;
    }
  }
  return undefined;
}

/**
 * Compiles a pattern written in JavaScript syntax (as policies have always been) onto RE2. Throws PatternError.
 * JavaScript-only escapes (\uXXXX, \cX, [^]) are translated to RE2's spelling; constructs RE2 cannot run are refused.
 */
export function compilePattern(source: string): Pattern {
  const why = unsupported(source);
  if (why) throw new PatternError(why);
  let re: RE2JS;
  try {
    re = RE2JS.compile(RE2JS.translateRegExp(source));
  } catch (e) {
    const m = ((e as Error)?.message ?? String(e)).replace(/^error parsing regexp: /, '');
    throw new PatternError(/repeat count/.test(m) ? `${m}: RE2 allows at most 1000 repetitions (including nested ones)` : m);
  }
  // Label and annotation values repeat from one review to the next (owner: payments): a small memo of recent short
  // values answers most tests without running the matcher. Bounded: cleared when full.
  let memo: Map<string, boolean> | undefined;
  return {
    source,
    test(s) {
      if (s.length > MEMO_MAX_LENGTH) return re.test(s);
      let hit = memo?.get(s);
      if (hit === undefined) {
        hit = re.test(s);
        if (memo === undefined) memo = new Map();
        else if (memo.size >= MEMO_ENTRIES) memo.clear();
        memo.set(s, hit);
      }
      return hit;
    },
  };
}

const MEMO_MAX_LENGTH = 64;
const MEMO_ENTRIES = 256;

/**
 * A pattern written in RE2 syntax (CEL's `matches`, as the API server reads it), compiled by the same linear-time
 * engine without the JavaScript translation. Throws PatternError.
 */
export function compileRe2Pattern(source: string): Pattern {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (e) {
    throw new PatternError(((e as Error)?.message ?? String(e)).replace(/^error parsing regexp: /, ''));
  }
  return { source, test: (s) => re.test(s) };
}

/** A policy pattern (JavaScript syntax, as compilePattern reads it) in RE2's syntax, for CEL's `matches`. */
export function re2Source(source: string): string {
  return RE2JS.translateRegExp(source);
}
