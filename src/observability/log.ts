// Structured logs (pino). One root logger; components take child loggers with their own bindings. JSON lines where a
// machine reads them (pods, CI, tests); a compact text line per record on a terminal.
import { pino, type Logger, type LevelWithSilent } from 'pino';
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

/** A destination that turns pino's JSON lines into text lines (pino writes one whole record per write). */
function textDestination(out: NodeJS.WritableStream): { write(s: string): void } {
  return {
    write(s: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(s) as Record<string, unknown>;
      } catch {
        out.write(s);
        return;
      }
      out.write(formatTextLine(record));
    },
  };
}

export function createLogger(
  opts: { level?: LevelWithSilent; name?: string; destination?: NodeJS.WritableStream; format?: string } = {},
): Logger {
  const destination = opts.destination ?? process.stdout;
  const format = selectLogFormat(opts.format ?? process.env.LOG_FORMAT, destination as { isTTY?: boolean });
  return pino(
    {
      name: opts.name ?? 'kube-governor',
      level: opts.level ?? (process.env.LOG_LEVEL as LevelWithSilent | undefined) ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Request bodies and key material never reach the log, whatever a caller passes.
      redact: { paths: ['body', 'object', 'oldObject', 'key', 'req.headers.authorization', '*.privateKey', '*.tlsKey'], censor: '[redacted]' },
    },
    (format === 'text' ? textDestination(destination) : destination) as any,
  );
}

/** A logger that drops everything: the default for tests and library callers. */
export const silentLogger: Logger = pino({ level: 'silent' });
