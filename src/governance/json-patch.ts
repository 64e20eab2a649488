// Minimal RFC 6902 JSON Patch recorder: adds values only where absent, creating missing maps in one op, so patches stay
// small and idempotent. It returns operations; their text and base64 are src/wire/json-patch-text.ts.
import { toPointer } from '../wire/pointer.js';
import type { JsonPatchOp } from '../wire/json-patch-text.js';
export type Path = readonly (string | number)[];

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A deep copy of a JSON value, as structuredClone would make it, without structuredClone's generic serialization
 * (a JSON value needs none of it). Anything that is not a plain object or an array below the
 * top (a Date from YAML, a null-prototype map) goes through structuredClone itself.
 */
export function cloneJson<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(cloneJson) as T;
  if (Object.getPrototypeOf(v) !== Object.prototype) return structuredClone(v);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const value = cloneJson((v as Record<string, unknown>)[k]);
    // A "__proto__" key from JSON.parse is an own property; plain assignment would set the prototype instead.
    if (k === '__proto__') Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    else out[k] = value;
  }
  return out as T;
}

/** Reads a value along a path; undefined when any step is missing or of the wrong type. */
export function getIn(doc: unknown, path: Path): unknown {
  let cur: unknown = doc;
  for (const seg of path) {
    if (typeof seg === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[seg];
    } else {
      if (!isRecord(cur) || !Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
      cur = cur[seg];
    }
  }
  return cur;
}

/**
 * A set of objects by identity for the few maps one review creates or copies: a linear scan while small (no hashing;
 * a WeakSet gives each object an identity hash on insert, which costs more than the scan for a handful), a Set beyond.
 */
class IdentitySet {
  private readonly few: object[] = [];
  private many: Set<object> | undefined;

  has(o: object): boolean {
    return this.many ? this.many.has(o) : this.few.includes(o);
  }

  add(o: object): void {
    if (this.many) this.many.add(o);
    else if (this.few.push(o) > 32) this.many = new Set(this.few);
  }
}

/** A one-level copy of a map or array (the copy-on-write step); anything but a plain map goes through structuredClone. */
function shallowCopy(v: object): object {
  if (Array.isArray(v)) return v.slice();
  if (Object.getPrototypeOf(v) !== Object.prototype) return structuredClone(v);
  // Spread defines own properties (a "__proto__" key from JSON.parse stays an own key) and has a fast path in V8.
  return { ...v };
}

/**
 * Applies "add when absent" edits to a copy-on-write view of a document and records the matching patch operations.
 * - `doc` starts as a one-level copy of the source; an edit copies the maps and arrays on its path (once each), so
 *   the source is never changed and unchanged subtrees are shared with it, so a review copies only what it edits.
 * - addIfAbsent never overwrites a value that is present (anything but undefined/null); only replace() does.
 * - Missing maps along the path are created inside a single op; later adds under a map this recorder created
 *   extend that op's value instead of adding ops (the op's value is the same object as in the document).
 * - Arrays are never created or extended: a path through a missing array element is skipped.
 */
export class PatchRecorder {
  private readonly recorded: JsonPatchOp[] = [];
  /** The source is the document: edits go straight into it (see the constructor). */
  private readonly inPlace: boolean;
  /** Maps this recorder created: they are already inside a recorded op's value (the same objects). */
  private readonly created = new IdentitySet();
  /** Maps and arrays of `doc` that are this recorder's own (copied or created), so edits may go straight into them. */
  private readonly owned = new IdentitySet();
  /** Values added so far (an add inside a map this recorder created extends an op instead of adding one). */
  edits = 0;
  /** Values added to the object's own metadata.labels, and to its metadata.annotations: what selectors and exceptions read. */
  labelEdits = 0;
  annotationEdits = 0;
  readonly doc: Record<string, unknown>;
  private finished = false;

  /**
   * `inPlace`: edit the source itself, for a caller that owns it and will not read it again as it was (the webhook
   * parses a fresh object per request): no map or array on an edited path is copied, and none is tracked.
   */
  constructor(source: Record<string, unknown>, opts: { readonly inPlace?: boolean } = {}) {
    this.inPlace = opts.inPlace === true;
    this.doc = this.inPlace ? source : (shallowCopy(source) as Record<string, unknown>);
    this.owned.add(this.doc);
  }

  /** Returns true when the value was added. */
  addIfAbsent(path: Path, value: unknown): boolean {
    if (this.finished) throw new Error('PatchRecorder: edit after finish()');
    if (path.length === 0) return false;
    let cur: unknown = this.doc;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (typeof seg === 'number') {
        if (!Array.isArray(cur) || seg < 0 || seg >= cur.length) return false;
        if (last) return false; // array elements are never added or replaced
        cur = cur[seg];
        continue;
      }
      if (!isRecord(cur)) return false;
      const next = Object.prototype.hasOwnProperty.call(cur, seg) ? cur[seg] : undefined;
      if (next === undefined || next === null) {
        // Build the rest of the path as nested maps around the value; numbers further down cannot be created.
        for (let j = i + 1; j < path.length; j++) if (typeof path[j] === 'number') return false;
        this.markCreated(value);
        let built: unknown = value;
        for (let j = path.length - 1; j > i; j--) {
          const map: Record<string, unknown> = {};
          map[path[j] as string] = built;
          built = map;
          this.created.add(built as object);
          if (!this.inPlace) this.owned.add(built as object);
        }
        // An owned map's ancestors are owned too (copies are made top-down), so only a shared one needs the walk.
        const target = (this.inPlace || this.owned.has(cur) ? cur : this.own(path, i)) as Record<string, unknown>;
        // Inside a map an earlier op created, the op's value already carries the addition.
        if (!this.created.has(target)) this.recorded.push({ op: 'add', path: toPointer(path, i + 1), value: built });
        target[seg] = built;
        this.edits++;
        if (path[0] === 'metadata') {
          if (path[1] === 'labels' || path.length === 1) this.labelEdits++;
          if (path[1] === 'annotations' || path.length === 1) this.annotationEdits++;
        }
        return true;
      }
      if (last) return false; // present: never overwrite what the user set
      cur = next;
    }
    return false;
  }

  /**
   * Replaces a string that is present and differs (a default with `overwrite`). Recorded as an "add", which RFC 6902
   * defines as a replace on an existing member. Returns true when the value changed.
   */
  replace(path: Path, value: string): boolean {
    if (this.finished) throw new Error('PatchRecorder: edit after finish()');
    if (path.length === 0) return false;
    let cur: unknown = this.doc;
    for (let i = 0; i < path.length - 1; i++) {
      const seg = path[i]!;
      if (typeof seg !== 'string' || !isRecord(cur) || !Object.prototype.hasOwnProperty.call(cur, seg)) return false;
      cur = cur[seg];
    }
    const key = path[path.length - 1]!;
    if (typeof key !== 'string' || !isRecord(cur) || !Object.prototype.hasOwnProperty.call(cur, key) || typeof cur[key] !== 'string' || cur[key] === value) return false;
    const target = (this.inPlace || this.owned.has(cur) ? cur : this.own(path, path.length - 1)) as Record<string, unknown>;
    if (!this.created.has(target)) this.recorded.push({ op: 'add', path: toPointer(path), value });
    target[key] = value;
    this.edits++;
    if (path[0] === 'metadata') {
      if (path[1] === 'labels') this.labelEdits++;
      if (path[1] === 'annotations') this.annotationEdits++;
    }
    return true;
  }

  /** The container at `path[0..depth)`, copying each map or array on the way that is still shared with the source. */
  private own(path: Path, depth: number): object {
    let parent = this.doc as Record<string | number, unknown>;
    for (let j = 0; j < depth; j++) {
      const seg = path[j]!;
      let child = parent[seg] as object;
      if (!this.owned.has(child)) {
        child = shallowCopy(child);
        this.owned.add(child);
        parent[seg] = child;
      }
      parent = child as Record<string | number, unknown>;
    }
    return parent;
  }

  /** Every map and array inside an added value belongs to its op: later adds under them extend that op. */
  private markCreated(v: unknown): void {
    if (typeof v !== 'object' || v === null) return;
    this.created.add(v);
    if (!this.inPlace) this.owned.add(v);
    for (const x of Array.isArray(v) ? v : Object.values(v)) this.markCreated(x);
  }

  /** Number of operations recorded so far. */
  get size(): number {
    return this.recorded.length;
  }

  /** A detached copy of the operations (later edits to the document no longer leak into it). */
  ops(): JsonPatchOp[] {
    return this.recorded.length ? cloneJson(this.recorded) : [];
  }

  /**
   * The operations without a copy, for a caller that is done editing: the recorder refuses edits from then on, so
   * nothing leaks into them (their values share maps with `doc`, which stays as it is).
   */
  finish(): JsonPatchOp[] {
    this.finished = true;
    return this.recorded;
  }
}
