// Structured JSON logs (pino). One root logger; components take child loggers with their own bindings.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: LevelWithSilent; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
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
    (opts.destination as any) ?? process.stdout,
  );
}

/** A logger that drops everything: the default for tests and library callers. */
export const silentLogger: Logger = pino({ level: 'silent' });
