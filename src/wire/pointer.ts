// RFC 6901 JSON Pointers from paths, made once per distinct path (a trie) and with each escaped key remembered.

/** Escaped keys (bounded): the keys that need escaping are mostly the policies' own ("governor.io/migration"). */
const ESCAPED = new Map<string, string>();
const MAX_ESCAPED = 1024;

/** RFC 6901: "~" becomes "~0" and "/" becomes "~1" (in that order). */
export function escapePointerSegment(seg: string | number): string {
  if (typeof seg === 'number') return String(seg);
  // Most keys need no escaping: two substring tests instead of two regex passes.
  if (!seg.includes('~') && !seg.includes('/')) return seg;
  let escaped = ESCAPED.get(seg);
  if (escaped === undefined) {
    escaped = seg.replace(/~/g, '~0').replace(/\//g, '~1');
    if (ESCAPED.size >= MAX_ESCAPED) ESCAPED.clear();
    ESCAPED.set(seg, escaped);
  }
  return escaped;
}

/**
 * Pointers made so far, as a trie by path segment: paths are built from the policies' keys, fixed field names and
 * container indices, so the same few pointers recur on every review; each is made once, and is already a flat string
 * when the patch text is written. Bounded: dropped whole past MAX_POINTERS nodes.
 */
interface PointerNode {
  readonly pointer: string;
  next?: Map<string | number, PointerNode>;
}

const MAX_POINTERS = 10_000;
let pointerRoot: PointerNode = { pointer: '' };
let pointerCount = 0;

/** The JSON Pointer of `path[0..length)` (default: all of it). */
export function toPointer(path: readonly (string | number)[], length = path.length): string {
  let node = pointerRoot;
  for (let i = 0; i < length; i++) {
    const seg = path[i]!;
    let next = node.next?.get(seg);
    if (next === undefined) {
      if (pointerCount >= MAX_POINTERS) {
        pointerRoot = { pointer: '' };
        pointerCount = 0;
        return toPointer(path, length);
      }
      next = { pointer: `${node.pointer}/${escapePointerSegment(seg)}` };
      (node.next ??= new Map()).set(seg, next);
      pointerCount++;
    }
    node = next;
  }
  return node.pointer;
}
