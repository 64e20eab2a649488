// Manifests read one YAML document at a time (`governor review`, `governor convert`): a file is streamed in chunks and
// cut at its document markers (`---`, `...` at the start of a line, which YAML forbids inside any content), so memory
// holds one document, never the whole input. Each document is parsed on its own: a syntax error is reported with its
// file, line and column and the other documents are still read.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parseAllDocuments } from 'yaml';
import { isRecord } from '../governance/json-patch.js';

/** Largest document accepted (bytes of text): the API server takes at most 3 MiB per request; YAML adds whitespace. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
const CHUNK_BYTES = 256 * 1024;

/** A document's text, where it starts (1-based line) and, when it is over the size limit, nothing but its length. */
export interface ManifestPiece {
  readonly text: string;
  readonly line: number;
  /** Set when the document was longer than MAX_DOCUMENT_BYTES: its text is dropped. */
  readonly oversize?: number;
}

export interface LoadedObject {
  readonly file: string;
  /** 1-based, counting every document of the file (empty ones too). */
  readonly document: number;
  /** 1-based line where the document starts. */
  readonly line: number;
  readonly object: unknown;
}

/** A document that could not be read: its position and what is wrong. */
export interface ManifestError {
  readonly file: string;
  readonly document: number;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export const formatManifestError = (e: ManifestError): string => `${e.file}${e.line ? `:${e.line}:${e.column}` : ''} (document ${e.document}): ${e.message}`;

const isBlankOrComment = (l: string): boolean => {
  const t = l.trimStart();
  return t === '' || t.startsWith('#');
};
/** `---` or `...` followed by nothing or whitespace: a document marker (only at column 0). */
const isMarker = (l: string, c: string): boolean => l.startsWith(c) && (l.length === 3 || l[3] === ' ' || l[3] === '\t' || l[3] === '\n' || l[3] === '\r');

/**
 * The documents of a stream of text, one at a time. A piece ends before a `---` line once it has content, and after a
 * `...` line; comments and directives before the first content stay with the document they precede, so the pieces
 * hold exactly the documents a parse of the whole text gives.
 */
export async function* manifestPieces(chunks: AsyncIterable<string>, maxBytes = MAX_DOCUMENT_BYTES): AsyncGenerator<ManifestPiece> {
  let lines: string[] = [];
  let bytes = 0;
  let oversize = 0;
  let start = 1;
  let lineNo = 0;
  let content = false;
  let rest = '';
  // The rest of a line whose beginning was dropped for its length: neither a marker nor content of its own.
  let continued = false;
  // Plain functions (a generator per line costs more than the cut itself): each returns the piece a line ends, if any.
  function cut(): ManifestPiece | undefined {
    const piece = lines.length || oversize ? (oversize ? { text: '', line: start, oversize } : { text: lines.join(''), line: start }) : undefined;
    lines = [];
    bytes = 0;
    oversize = 0;
    content = false;
    start = lineNo + 1;
    return piece;
  }
  function add(l: string): void {
    if (oversize) oversize += l.length;
    else if (bytes + l.length > maxBytes) {
      oversize = bytes + l.length;
      lines = [];
    } else {
      lines.push(l);
      bytes += l.length;
    }
  }
  function line(l: string): ManifestPiece | undefined {
    if (continued) {
      continued = false;
      oversize += l.length;
      if (l.endsWith('\n')) lineNo++;
      return undefined;
    }
    const c = l.charCodeAt(0);
    if (c === 45 /* - */ && isMarker(l, '---')) {
      const piece = content ? cut() : undefined;
      lineNo++;
      add(l);
      content = true;
      return piece;
    }
    lineNo++;
    add(l);
    if (c === 46 /* . */ && isMarker(l, '...')) return cut();
    if (!content && !isBlankOrComment(l) && c !== 37 /* % */) content = true;
    return undefined;
  }
  for await (const chunk of chunks) {
    let text = rest + chunk;
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      const piece = line(text.slice(from, nl + 1));
      if (piece) yield piece;
      from = nl + 1;
    }
    rest = text.slice(from);
    // A line longer than the limit never needs to be kept whole: only its length counts.
    if (rest.length > maxBytes) {
      if (!oversize) oversize = bytes + rest.length;
      else oversize += rest.length;
      lines = [];
      rest = '';
      content = true;
      continued = true;
    }
    text = '';
  }
  const last = rest ? line(rest) : undefined;
  if (last) yield last;
  const end = cut();
  if (end) yield end;
}

/** The objects of one piece (`kind: List` items flattened), or the errors that stop it. `document` counts on from next. */
export function parsePiece(file: string, piece: ManifestPiece, next: number): { objects: LoadedObject[]; errors: ManifestError[]; documents: number } {
  if (piece.oversize) {
    return { objects: [], errors: [{ file, document: next, line: piece.line, column: 1, message: `document too large (${piece.oversize} bytes; at most ${MAX_DOCUMENT_BYTES})` }], documents: 1 };
  }
  const docs = parseAllDocuments(piece.text);
  const objects: LoadedObject[] = [];
  const errors: ManifestError[] = [];
  if (!Array.isArray(docs)) return { objects, errors, documents: 0 };
  // Positions are computed only where needed (a line counter on every parse costs more).
  const at = (offset: number) => {
    let line = piece.line;
    let lineStart = 0;
    for (let i = piece.text.indexOf('\n'); i >= 0 && i < offset; i = piece.text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    return { line, column: offset - lineStart + 1 };
  };
  docs.forEach((doc, i) => {
    const document = next + i;
    const line = at(doc.range[0]).line;
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      errors.push({ file, document, ...at(e.pos[0]), message: `YAML syntax: ${e.message.split('\n')[0]}` });
      return;
    }
    let obj: unknown;
    try {
      obj = doc.toJS({ maxAliasCount: 50 });
    } catch (e) {
      errors.push({ file, document, line, column: 1, message: (e as Error).message });
      return;
    }
    if (obj === null || obj === undefined) return;
    const items = isRecord(obj) && obj.kind === 'List' && Array.isArray(obj.items) ? obj.items : [obj];
    for (const item of items) objects.push({ file, document, line, object: item });
  });
  return { objects, errors, documents: docs.length };
}

/** stdin for "-": a stream (the process's), or its whole text (tests). */
export type StdinSource = NodeJS.ReadableStream | (() => Promise<string>);

async function* textChunks(s: NodeJS.ReadableStream): AsyncGenerator<string> {
  let decoder: StringDecoder | undefined;
  for await (const c of s as AsyncIterable<string | Buffer>) {
    if (typeof c === 'string') yield c;
    else yield (decoder ??= new StringDecoder('utf8')).write(c);
  }
  const tail = decoder?.end();
  if (tail) yield tail;
}

/**
 * The inputs of a command that may read them twice (review reads the Namespace objects first): files are opened again,
 * stdin is kept in a temporary file the first time it is read, and removed by close().
 */
export class ManifestInputs {
  private spooled?: string;
  private spoolDir?: string;
  private stdinText?: string;
  constructor(
    readonly files: readonly string[],
    private readonly stdin: StdinSource = process.stdin,
  ) {}

  /** The name shown for a file ("<stdin>" for "-"). */
  static label(file: string): string {
    return file === '-' ? '<stdin>' : file;
  }

  /** The text of one input, in chunks; stdin's first reading is written aside for the next ones. */
  async *chunks(file: string): AsyncGenerator<string> {
    if (file !== '-') {
      yield* textChunks(createReadStream(file, { highWaterMark: CHUNK_BYTES }));
      return;
    }
    if (this.stdinText !== undefined) {
      yield this.stdinText;
      return;
    }
    if (this.spooled) {
      yield* textChunks(createReadStream(this.spooled, { highWaterMark: CHUNK_BYTES }));
      return;
    }
    if (typeof this.stdin === 'function') {
      this.stdinText = await this.stdin();
      yield this.stdinText;
      return;
    }
    this.spoolDir = await mkdtemp(join(tmpdir(), 'governor-stdin-'));
    const path = join(this.spoolDir, 'stdin');
    const spool = createWriteStream(path);
    for await (const c of textChunks(this.stdin)) {
      if (!spool.write(c)) await once(spool, 'drain');
      yield c;
    }
    spool.end();
    await once(spool, 'finish');
    this.spooled = path;
  }

  /** Every object of every input, in order, with the documents that could not be read in their place. */
  async *objects(): AsyncGenerator<LoadedObject | ManifestError> {
    for (const file of this.files) {
      const label = ManifestInputs.label(file);
      let next = 1;
      let pieces: AsyncGenerator<ManifestPiece>;
      try {
        pieces = manifestPieces(this.chunks(file));
        for await (const piece of pieces) {
          const r = parsePiece(label, piece, next);
          next += r.documents;
          yield* r.errors;
          yield* r.objects;
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        yield { file: label, document: next, line: 0, column: 0, message: `cannot read: ${code ?? (e as Error).message}` };
      }
    }
  }

  /**
   * The Namespace objects (v1) of every input, before any object is reviewed: they give their labels and annotations to
   * the objects of their namespace wherever they stand. Only documents whose text names the kind are parsed.
   */
  async namespaces(): Promise<Map<string, { labels: Record<string, string>; annotations: Record<string, string> }>> {
    const found = new Map<string, { labels: Record<string, string>; annotations: Record<string, string> }>();
    for (const file of this.files) {
      try {
        // Most inputs name no Namespace at all: one pass over the text tells, before any document is cut out.
        let mentions = false;
        let tail = '';
        for await (const c of this.chunks(file)) {
          mentions ||= (tail + c).includes('Namespace');
          tail = c.slice(-8);
        }
        if (!mentions) continue;
        for await (const piece of manifestPieces(this.chunks(file))) {
          if (!piece.text.includes('Namespace')) continue;
          for (const { object } of parsePiece(file, piece, 1).objects) {
            if (!isRecord(object) || object.kind !== 'Namespace' || object.apiVersion !== 'v1' || !isRecord(object.metadata) || typeof object.metadata.name !== 'string') continue;
            const m = object.metadata;
            found.set(object.metadata.name, { labels: isRecord(m.labels) ? (m.labels as Record<string, string>) : {}, annotations: isRecord(m.annotations) ? (m.annotations as Record<string, string>) : {} });
          }
        }
      } catch {
        // Reported where the objects are read.
      }
    }
    return found;
  }

  async close(): Promise<void> {
    if (this.spoolDir) await rm(this.spoolDir, { recursive: true, force: true });
  }
}

export const isManifestError = (x: LoadedObject | ManifestError): x is ManifestError => 'message' in x;
