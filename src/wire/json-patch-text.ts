// The text and base64 of an RFC 6902 JSON Patch, as an AdmissionReview carries it.
import { base64Utf8 } from './text.js';

/** The one operation the governance engine records: add a value where none is. */
export type JsonPatchOp = { readonly op: 'add'; readonly path: string; readonly value: unknown };

/**
 * Anything but printable ASCII other than `"` and `\\`: such a string goes through JSON.stringify (it escapes quotes,
 * backslashes, controls and lone surrogates); every other string is its own JSON body between quotes.
 */
const NEEDS_ESCAPE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

function jsonValue(v: unknown): string {
  if (typeof v === 'string') return jsonString(v);
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) return JSON.stringify(v) ?? 'null';
  let out = '{';
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
    out += `${out.length > 1 ? ',' : ''}${jsonString(k)}:${jsonValue(x)}`;
  }
  return `${out}}`;
}

/**
 * The patch as JSON text, equal to JSON.stringify(ops) (a property test holds them equal). The values are label
 * strings and small maps of them, which this writes directly instead of through JSON.stringify's generic walk.
 */
export function patchText(ops: readonly JsonPatchOp[]): string {
  let out = '[';
  for (let i = 0; i < ops.length; i++) {
    const { path, value } = ops[i]!;
    out += `${i ? ',' : ''}{"op":"add","path":${jsonString(path)}${value === undefined ? '' : `,"value":${jsonValue(value)}`}}`;
  }
  return `${out}]`;
}

/** Base64 of the patch's UTF-8 bytes, as AdmissionResponse.patch: Buffer.from(JSON.stringify(ops)).toString('base64'). */
export function patchBase64(ops: readonly JsonPatchOp[]): string {
  return base64Utf8(patchText(ops));
}
