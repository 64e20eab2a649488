// Text as bytes on the wire: the one ASCII test, UTF-8 base64, and the encoding a body is written with.

/** Every character is ASCII: the UTF-8 is one byte per character. `bytes`: the UTF-8 length, when already known. */
export function isAscii(text: string, bytes: number = Buffer.byteLength(text, 'utf8')): boolean {
  return bytes === text.length;
}

/**
 * Base64 of the text's UTF-8 bytes (what Buffer.from(text).toString('base64') gives). ASCII text is its own UTF-8,
 * so btoa encodes it from the string itself, without a Buffer copy. `ascii`: isAscii(text), when the caller knows.
 */
export function base64Utf8(text: string, ascii: boolean = isAscii(text)): string {
  return ascii ? btoa(text) : Buffer.from(text, 'utf8').toString('base64');
}

/** The text whose UTF-8 bytes `b64` encodes (Secret data, caBundle fields). */
export function utf8OfBase64(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf8');
}

/** A response body: its text, its UTF-8 length (Content-Length) and the encoding to write it with. */
export interface Body {
  readonly text: string;
  readonly bytes: number;
  /** latin1 for ASCII text (the same bytes as UTF-8, copied without encoding), utf8 otherwise. */
  readonly encoding: 'latin1' | 'utf8';
}

export function textBody(text: string): Body {
  const bytes = Buffer.byteLength(text, 'utf8');
  return { text, bytes, encoding: isAscii(text, bytes) ? 'latin1' : 'utf8' };
}

/** The body of a JSON value. */
export function jsonBody(value: unknown): Body {
  return textBody(JSON.stringify(value));
}
