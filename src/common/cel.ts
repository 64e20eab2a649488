// CEL expressions (spec.validations) on @bufbuild/cel, compiled once and evaluated under a cost budget.
//
// The library has no cost limit of its own, so compile rewrites the expression's syntax tree: every function call's
// receiver and arguments and every comprehension's range and loop condition pass through a metering call that charges
// 1 plus the size of the value (string length, list or map entries) before the work on it is done. An evaluation that
// spends more than its budget, or runs past its time limit (the clock is read every few hundred charges), stops at the
// next charge. Between two charges the library does one primitive operation on values that were charged, so time is
// bounded by the budget times the largest charged value, and by the clock. Regular expressions run on RE2 (linear).
import { createRequire } from 'node:module';
import type * as CelLibrary from '@bufbuild/cel';
import type * as CelExtensions from '@bufbuild/cel/ext';
import { compileRe2Pattern, type Pattern } from './pattern.js';

/** Cost units one evaluation may spend (the API server's per-expression limit is 1,000,000 of its own units). */
export const DEFAULT_CEL_BUDGET = 1_000_000;
/** Wall-clock limit of one evaluation, whatever its cost (ms). */
export const DEFAULT_CEL_TIME_LIMIT_MS = 100;
/** Longest expression accepted (characters). */
export const MAX_CEL_EXPRESSION_LENGTH = 5_000;
/** Most syntax-tree nodes an expression may have after macro expansion. */
export const MAX_CEL_NODES = 2_000;

const METER = '__governor_cost__';
// Type denotations (`type(x) == string`) are identifiers in the syntax tree.
const TYPE_NAMES = ['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn'];
const CLOCK_EVERY = 256;

/** Thrown by compileCel: `line`/`column` are 1-based positions inside the expression. */
export class CelCompileError extends Error {
  override name = 'CelCompileError';
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
  }
}

export type CelOutcome = { readonly value: unknown } | { readonly error: string; readonly exhausted?: 'budget' | 'time' };

export interface CelLimits {
  readonly budget?: number;
  readonly timeLimitMs?: number;
  /** The clock (ms); default performance.now. */
  readonly now?: () => number;
}

export interface CelProgram {
  readonly source: string;
  /** Never throws: an error, an exhausted budget or time limit is an outcome. */
  evaluate(vars: Readonly<Record<string, unknown>>, limits?: CelLimits): CelOutcome;
}

class Exhausted extends Error {
  constructor(readonly kind: 'budget' | 'time') {
    super(kind === 'budget' ? 'cost budget exceeded' : 'time limit exceeded');
  }
}

/** The running evaluation's meter (evaluation is synchronous: one at a time). */
let meter: { spent: number; budget: number; deadline: number; now: () => number; exhausted?: 'budget' | 'time' } | undefined;

function sizeOf(v: unknown): number {
  if (typeof v === 'string') return v.length;
  if (v instanceof Uint8Array) return v.length;
  const { isCelList, isCelMap } = lib().cel;
  if (isCelList(v) || isCelMap(v)) return v.size;
  return 0;
}

function charge(v: unknown): unknown {
  const m = meter;
  if (!m) return v;
  if (m.exhausted) throw new Exhausted(m.exhausted);
  const before = m.spent;
  m.spent += 1 + sizeOf(v);
  if (m.spent > m.budget) throw new Exhausted((m.exhausted = 'budget'));
  if (Math.floor(before / CLOCK_EVERY) !== Math.floor(m.spent / CLOCK_EVERY) && m.now() >= m.deadline) throw new Exhausted((m.exhausted = 'time'));
  return v;
}

// Compiled regular expressions, by pattern: literal patterns are compiled at load; others when first seen (bounded).
const regexCache = new Map<string, Pattern>();
const REGEX_CACHE_ENTRIES = 512;
// Patterns read from the object itself can be long: those are compiled each time (their length was charged), not kept.
const REGEX_CACHE_MAX_LENGTH = 1024;
function regex(pattern: string): Pattern {
  let p = regexCache.get(pattern);
  if (!p) {
    p = compileRe2Pattern(pattern);
    if (pattern.length > REGEX_CACHE_MAX_LENGTH) return p;
    if (regexCache.size >= REGEX_CACHE_ENTRIES) regexCache.clear();
    regexCache.set(pattern, p);
  }
  return p;
}

// The library is loaded on first use, synchronously (its CommonJS build): most policy sets have no CEL, and loading it
// is a good part of `governor review`'s start-up.
let loaded: { readonly cel: typeof CelLibrary; readonly env: ReturnType<typeof CelLibrary.celEnv> } | undefined;
function lib(): NonNullable<typeof loaded> {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    const cel = require('@bufbuild/cel') as typeof CelLibrary;
    const { strings } = require('@bufbuild/cel/ext') as typeof CelExtensions;
    const env = cel.celEnv({
      funcs: [...strings, cel.celFunc(METER, [cel.CelScalar.DYN], cel.CelScalar.DYN, (v) => charge(v) as never)],
      re2: { compile: (pattern: string) => regex(pattern) },
    });
    loaded = { cel, env };
  }
  return loaded;
}

/** Operators the library plans specially (short-circuit, attribute access): their operands are not metered. */
const UNMETERED = new Set(['_&&_', '_||_', '_?_:_', '@not_strictly_false', '__not_strictly_false__', '_[_]', '_[?_]', '_?._']);

// The syntax tree (protobuf-es messages, read by the planner as plain fields).
interface Expr {
  id: bigint;
  exprKind: { case: string | undefined; value?: any };
}

function qualifiedName(e: Expr | undefined): string | undefined {
  if (!e) return undefined;
  if (e.exprKind.case === 'identExpr') return e.exprKind.value.name;
  if (e.exprKind.case === 'selectExpr' && !e.exprKind.value.testOnly) {
    const q = qualifiedName(e.exprKind.value.operand);
    return q === undefined ? undefined : `${q}.${e.exprKind.value.field}`;
  }
  return undefined;
}

interface Walk {
  nextId: bigint;
  nodes: number;
  free: Set<string>;
}

/** Checks names and literal regexes, counts nodes and inserts the meter; returns the (possibly wrapped) node. */
function instrument(e: Expr | undefined, scope: ReadonlySet<string>, w: Walk): Expr | undefined {
  if (!e) return e;
  if (++w.nodes > MAX_CEL_NODES) throw new CelCompileError(`expression too large (more than ${MAX_CEL_NODES} nodes after macro expansion)`);
  const meterOf = (x: Expr | undefined): Expr | undefined =>
    x && { $typeName: 'cel.expr.Expr', id: w.nextId++, exprKind: { case: 'callExpr', value: { $typeName: 'cel.expr.Expr.Call', function: METER, args: [x] } } } as Expr;
  const k = e.exprKind;
  switch (k.case) {
    case 'identExpr':
      if (!scope.has(k.value.name)) w.free.add(k.value.name);
      return e;
    case 'selectExpr':
      k.value.operand = instrument(k.value.operand, scope, w);
      return e;
    case 'listExpr':
      k.value.elements = k.value.elements.map((x: Expr) => instrument(x, scope, w));
      return e;
    case 'structExpr':
      for (const entry of k.value.entries) {
        if (entry.keyKind.case === 'mapKey') entry.keyKind.value = instrument(entry.keyKind.value, scope, w);
        entry.value = instrument(entry.value, scope, w);
      }
      return e;
    case 'comprehensionExpr': {
      const c = k.value;
      c.iterRange = meterOf(instrument(c.iterRange, scope, w));
      c.accuInit = instrument(c.accuInit, scope, w);
      const inner = new Set([...scope, c.iterVar, c.accuVar]);
      c.loopCondition = meterOf(instrument(c.loopCondition, inner, w));
      c.loopStep = instrument(c.loopStep, inner, w);
      c.result = instrument(c.result, new Set([...scope, c.accuVar]), w);
      return e;
    }
    case 'callExpr': {
      const c = k.value;
      const qual = qualifiedName(c.target);
      if (qual !== undefined && lib().env.funcs.find(`${qual}.${c.function}`)) {
        c.args = c.args.map((a: Expr) => meterOf(instrument(a, scope, w)));
        return e;
      }
      if (!UNMETERED.has(c.function) && !lib().env.funcs.find(c.function)) throw new CelCompileError(`unknown function ${c.function}`);
      if (c.function === 'matches') {
        const p = c.args[c.target ? 0 : 1] as Expr | undefined;
        if (p?.exprKind.case === 'constExpr' && p.exprKind.value.constantKind.case === 'stringValue') {
          try {
            regex(p.exprKind.value.constantKind.value);
          } catch (err) {
            throw new CelCompileError(`invalid regular expression (RE2): ${(err as Error).message}`);
          }
        }
      }
      const metered = !UNMETERED.has(c.function);
      const wrap = (x: Expr | undefined) => (metered ? meterOf(instrument(x, scope, w)) : instrument(x, scope, w));
      if (c.target) c.target = wrap(c.target);
      c.args = c.args.map(wrap);
      return e;
    }
    default:
      return e;
  }
}

/**
 * Compiles an expression over the given variable names. Throws CelCompileError (syntax, an unknown variable or
 * function, a bad literal regex, too long or too large).
 */
export function compileCel(source: string, variables: readonly string[]): CelProgram {
  if (source.length > MAX_CEL_EXPRESSION_LENGTH) throw new CelCompileError(`expression too long (${source.length} characters; at most ${MAX_CEL_EXPRESSION_LENGTH})`);
  const { cel, env } = lib();
  let root: Expr;
  try {
    root = cel.parse(source).expr as unknown as Expr;
  } catch (e) {
    const loc = (e as { location?: { start?: { line: number; column: number } } }).location?.start;
    const raw = (e as { rawMessage?: string }).rawMessage ?? (e as Error).message;
    throw new CelCompileError(`syntax error: ${raw}`, loc?.line, loc?.column);
  }
  const w: Walk = { nextId: 1n << 40n, nodes: 0, free: new Set() };
  root = instrument(root, new Set([...variables, ...TYPE_NAMES]), w)!;
  const unknown = [...w.free].filter((n) => !variables.includes(n));
  if (unknown.length) throw new CelCompileError(`unknown variable ${unknown.join(', ')} (available: ${variables.join(', ')})`);
  const run = cel.plan(env, root as never);
  return {
    source,
    evaluate(vars, limits = {}) {
      const now = limits.now ?? (() => performance.now());
      const m = { spent: 0, budget: limits.budget ?? DEFAULT_CEL_BUDGET, deadline: now() + (limits.timeLimitMs ?? DEFAULT_CEL_TIME_LIMIT_MS), now } as NonNullable<typeof meter>;
      const outer = meter;
      meter = m;
      try {
        const r = run(vars as never);
        if (m.exhausted) return { error: m.exhausted === 'budget' ? `cost budget of ${m.budget} exceeded` : `time limit of ${limits.timeLimitMs ?? DEFAULT_CEL_TIME_LIMIT_MS}ms exceeded`, exhausted: m.exhausted };
        if (cel.isCelError(r)) return { error: r.message };
        return { value: r };
      } catch (e) {
        if (m.exhausted) return { error: `cost budget exceeded`, exhausted: m.exhausted };
        return { error: (e as Error)?.message ?? String(e) };
      } finally {
        meter = outer;
      }
    },
  };
}

/**
 * A JSON value as CEL sees a Kubernetes object: whole numbers are ints (the API server reads them by the schema's
 * integer type), other numbers doubles. Copies; O(size of the value).
 */
export function celValue(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER ? BigInt(v) : v;
  // Built as the library's own lists and maps once per review: given plain objects, it would build a new map for
  // every object each time an expression reads it.
  if (Array.isArray(v)) return lib().cel.celList(v.map(celValue) as never);
  if (v !== null && typeof v === 'object') {
    const out = new Map<string, unknown>();
    for (const [k, x] of Object.entries(v)) out.set(k, celValue(x));
    return lib().cel.celMap(out as never);
  }
  return v;
}

/** A CEL result as plain JSON-ish data (lists and maps as arrays and objects), for messages and tests. */
export function plainValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  const { isCelList, isCelMap } = lib().cel;
  if (isCelList(v)) return [...v].map(plainValue);
  if (isCelMap(v)) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), plainValue(x)]));
  return v;
}
