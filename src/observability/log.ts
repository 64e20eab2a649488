// Structured logs (pino). One root logger; components take child loggers with their own bindings. JSON lines where a
// machine reads them (pods, CI, tests); a compact text line per record on a terminal. Written asynchronously to a file
// descriptor in batches (log-writer.ts: a write to a pipe would block the event loop that answers reviews); flushLog
// drains it before exit.
import { isatty } from 'node:tty';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { LineWriter } from './log-writer.js';
import { ConfigError } from '../common/errors.js';

export type { Logger };

export type LogFormat = 'json' | 'text';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];

/**
 * The format asked for (--log-format, else LOG_FORMAT), or by default text when the destination is a terminal and
 * JSON otherwise. An unknown value is an error, not a silent default.
 */
export function selectLogFormat(requested: string | undefined, destination: { isTTY?: boolean }): LogFormat {
  const r = requested || undefined;
  if (r === undefined) return destination.isTTY === true ? 'text' : 'json';
  if (!(LOG_FORMATS as readonly string[]).includes(r)) throw new ConfigError(`--log-format is one of ${LOG_FORMATS.join(', ')} (got "${r}")`);
  return r as LogFormat;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const PLAIN = /^[\w./:@,+-]+$/;

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return PLAIN.test(v) ? v : JSON.stringify(v);
  if (v === null || typeof v !== 'object') return String(v);
  return JSON.stringify(v);
}

/**
 * One text line from one JSON record: `<time> <LEVEL> [<component>] <msg> key=value ...`. Strings with spaces or
 * quotes are quoted, objects are JSON; `name` is left out (always kube-governor).
 */
export function formatTextLine(record: Record<string, unknown>): string {
  const { time, level, msg, name: _name, component, ...fields } = record;
  const lvl = typeof level === 'number' ? (LEVEL_NAMES[level] ?? String(level)) : String(level ?? '').toUpperCase();
  let line = `${String(time ?? '')} ${lvl.padEnd(5)}`;
  if (component !== undefined) line += ` [${String(component)}]`;
  if (msg !== undefined) line += ` ${String(msg)}`;
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${fieldValue(v)}`;
  return line + '\n';
}

export const REDACTED = '[redacted]';
/** Fields never written as given: request bodies and keys at the top level, key material one level down. */
const SECRET_FIELDS = new Set(['body', 'object', 'oldObject', 'key']);
const SECRET_NESTED = ['privateKey', 'tlsKey'] as const;

/**
 * The record with its secrets replaced by REDACTED: `body`, `object`, `oldObject` and `key`, `privateKey` and
 * `tlsKey` of any field, `req.headers.authorization`. The caller's object is copied only when something is replaced.
 * (pino's own redact option, with wildcard paths, ran a function over every field of every record.)
 */
export function redact(o: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const k in o) {
    const v = o[k];
    if (v === undefined || !Object.prototype.hasOwnProperty.call(o, k)) continue;
    if (SECRET_FIELDS.has(k)) {
      (copy ??= { ...o })[k] = REDACTED;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    const inner = v as Record<string, unknown>;
    let innerCopy: Record<string, unknown> | undefined;
    for (const s of SECRET_NESTED) if (inner[s] !== undefined && Object.prototype.hasOwnProperty.call(inner, s)) (innerCopy ??= { ...inner })[s] = REDACTED;
    if (k === 'req') {
      const headers = inner.headers as Record<string, unknown> | null | undefined;
      if (headers && typeof headers === 'object' && headers.authorization !== undefined) innerCopy = { ...(innerCopy ?? inner), headers: { ...headers, authorization: REDACTED } };
    }
    if (innerCopy) (copy ??= { ...o })[k] = innerCopy;
  }
  return copy ?? o;
}

/** pino's isoTime, made once per millisecond: under load many records share one. */
let lastMs = -1;
let lastTime = '';
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/** What pino writes to; a LineWriter has all of it, a test's stream only `write`. */
interface Destination {
  write(s: string): void;
  flush?(cb?: (err?: Error) => void): void;
  /** The text destination's: the destination it writes to. */
  readonly inner?: Destination;
}

/** A destination that turns pino's JSON lines into text lines (pino writes one whole record per write). */
function textDestination(out: Destination | NodeJS.WritableStream): Destination {
  const o = out as Destination;
  return {
    inner: o,
    write(s: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(s) as Record<string, unknown>;
      } catch {
        o.write(s);
        return;
      }
      o.write(formatTextLine(record));
    },
  };
}

/**
 * `destination`: a stream, written synchronously (tests, in-process capture); a file descriptor (default 1, stdout)
 * or a file path, written asynchronously in batches (LineWriter: at most 250 ms late, written synchronously on exit).
 */
export function createLogger(
  opts: { level?: LevelWithSilent; name?: string; destination?: NodeJS.WritableStream | number | string; format?: string } = {},
): Logger {
  const to = opts.destination ?? 1;
  const isTTY = typeof to === 'number' ? isatty(to) : typeof to === 'string' ? false : (to as { isTTY?: boolean }).isTTY;
  const format = selectLogFormat(opts.format ?? process.env.LOG_FORMAT, { isTTY });
  const level = opts.level ?? (process.env.LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  const stream: Destination | NodeJS.WritableStream =
    typeof to === 'object' ? to : level === 'silent' ? { write() {} } : new LineWriter(to);
  const log = pino(
    {
      name: opts.name ?? 'kube-governor',
      level,
      base: undefined,
      timestamp: isoTime,
      // Request bodies and key material never reach the log, whatever a caller passes: records here, child
      // bindings below (pino applies formatters.bindings to the root's bindings only).
      formatters: { level: (label) => ({ level: label }), log: redact },
    },
    (format === 'text' ? textDestination(stream) : stream) as any,
  );
  const child = log.child;
  // Children inherit this method (a pino child is Object.create of its parent), so every descendant redacts too.
  log.child = function (this: Logger, bindings: Record<string, unknown>, options?: unknown) {
    return child.call(this, redact(bindings), options as never);
  } as Logger['child'];
  return log;
}

const FLUSH_TIMEOUT_MS = 5000;

/**
 * Writes out every record logged so far before the process exits (the SIGTERM path): waits for the asynchronous
 * destination to drain, at most `timeoutMs` (a reader that stopped reading must not hold the exit forever).
 */
export function flushLog(log: Logger, timeoutMs = FLUSH_TIMEOUT_MS): Promise<void> {
  const top = (log as unknown as Record<symbol, Destination | undefined>)[pino.symbols.streamSym];
  const stream = top?.inner ?? top;
  if (!stream || typeof stream.flush !== 'function') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    stream.flush!(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A logger that drops everything: the default for tests and library callers. */
export const silentLogger: Logger = pino({ level: 'silent' });
