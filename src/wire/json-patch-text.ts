// The text and base64 of an RFC 6902 JSON Patch, as an AdmissionReview carries it.
import { base64Utf8 } from './text.js';

/** The one operation the governance engine records: add a value where none is. */
export type JsonPatchOp = { readonly op: 'add'; readonly path: string; readonly value: unknown };

/**
 * Anything but printable ASCII other than `"` and `\\`: such a string goes through JSON.stringify (it escapes quotes,
 * backslashes, controls and lone surrogates); every other string is its own JSON text between quotes.
 */
const NEEDS_ESCAPE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

/** What writing the patch found: its text, and whether every string in it stayed printable ASCII. */
interface Written {
  text: string;
  ascii: boolean;
}

function jsonString(s: string, w: Written): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  w.ascii = false; // JSON.stringify leaves non-ASCII characters as they are
  return JSON.stringify(s);
}

function jsonValue(v: unknown, w: Written): string {
  if (typeof v === 'string') return jsonString(v, w);
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) {
    if (typeof v !== 'number' && typeof v !== 'boolean') w.ascii = false;
    return JSON.stringify(v) ?? 'null';
  }
  let out = '{';
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
    out += `${out.length > 1 ? ',' : ''}${jsonString(k, w)}:${jsonValue(x, w)}`;
  }
  return `${out}}`;
}

function write(ops: readonly JsonPatchOp[]): Written {
  const w: Written = { text: '', ascii: true };
  let out = '[';
  for (let i = 0; i < ops.length; i++) {
    const { path, value } = ops[i]!;
    out += `${i ? ',' : ''}{"op":"add","path":${jsonString(path, w)}${value === undefined ? '' : `,"value":${jsonValue(value, w)}`}}`;
  }
  w.text = `${out}]`;
  return w;
}

/**
 * The patch as JSON text, equal to JSON.stringify(ops) (a property test holds them equal). The values are label
 * strings and small maps of them, which this writes directly instead of through JSON.stringify's generic walk.
 */
export function patchText(ops: readonly JsonPatchOp[]): string {
  return write(ops).text;
}

/**
 * Base64 of the patch's UTF-8 bytes, as AdmissionResponse.patch: Buffer.from(JSON.stringify(ops)).toString('base64').
 * The writer knows whether the text is ASCII, which spares base64Utf8 a scan of it.
 */
export function patchBase64(ops: readonly JsonPatchOp[]): string {
  const { text, ascii } = write(ops);
  return base64Utf8(text, ascii);
}
