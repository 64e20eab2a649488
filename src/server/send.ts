// Writing a response body (src/wire/text.ts) with its length and encoding; the one way every server here answers.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Body } from '../wire/text.js';

export function sendBody(res: ServerResponse, code: number, contentType: string, b: Body, headers?: OutgoingHttpHeaders): void {
  res.writeHead(code, headers ? { 'Content-Type': contentType, 'Content-Length': b.bytes, ...headers } : { 'Content-Type': contentType, 'Content-Length': b.bytes });
  res.end(b.text, b.encoding);
}
