// The conventions every `governor` command shares (kubectl's): exit codes, -o/--output, Go durations, and the
// kubeconfig flags of the commands that talk to a cluster.
import { Option, type Command } from 'commander';
import { stringify } from 'yaml';
import { DurationError, formatDuration, parseDuration } from '../common/duration.js';

/** Exit codes: 0 success; 1 denied, violations, failed tests, lint errors, a failed action; 2 usage or input errors. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A usage or input error of our own: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Errors (by name) that are usage or input errors: a bad flag value, an unreadable or invalid file. */
const USAGE_ERRORS = new Set([
  'UsageError',
  'ConfigError',
  'ReviewUsageError',
  'HpaUsageError',
  'HpaGenerationError',
  'SimulateUsageError',
  'PolicySelectionError',
  'TraceError',
  'DurationError',
  'KubeConfigError',
  'CertOptionsError',
  'CommanderError',
  'InvalidArgumentError',
]);
const FILE_ERRORS = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR', 'EPERM']);

/** The exit code for an error that ended a command. */
/** A repeatable option's parser (`-f a -f b`). */
export const repeatable = (v: string, prev: string[] = []): string[] => [...prev, v];

/** Exit code of a command that leaves things out (rules refused, not exported): 1 unless --partial accepts it. */
export const partialExit = (leftOut: number, partial: boolean | undefined): number => (leftOut && !partial ? EXIT_FAILED : EXIT_OK);

export function exitCodeFor(e: unknown): number {
  if (!(e instanceof Error)) return EXIT_FAILED;
  if (USAGE_ERRORS.has(e.name)) return EXIT_USAGE;
  if (FILE_ERRORS.has((e as NodeJS.ErrnoException).code ?? '')) return EXIT_USAGE;
  return EXIT_FAILED;
}

/** -o/--output with the formats a command prints; any other value is a usage error (exit 2), never a silent default. */
export function outputOption(formats: readonly string[], defaultFormat: string, what = ''): Option {
  return new Option('-o, --output <format>', `output format: ${formats.join(', ')}${what ? ` (${what})` : ''}`).choices(formats).default(defaultFormat);
}

/** Prints data as JSON or YAML (the two machine formats of every command). */
export function formatData(format: 'json' | 'yaml', data: unknown): string {
  return format === 'json' ? `${JSON.stringify(data, null, 2)}\n` : stringify(data, { lineWidth: 0 });
}

/** kubectl's JSON of objects: one object alone, several as a v1 List. */
export function kubeList(items: readonly unknown[]): unknown {
  return items.length === 1 ? items[0] : { apiVersion: 'v1', kind: 'List', items };
}

export interface DurationFlagOptions {
  /** Smallest value in ms (inclusive). */
  readonly min?: number;
  /** Where deprecation warnings go (stderr). */
  readonly warn?: (line: string) => void;
}

/**
 * A duration flag: a Go duration ("2s", "1m30s", "500ms"), in ms. A plain whole number is the old form (milliseconds):
 * still accepted, with a deprecation warning naming the new form.
 */
export function durationFlag(flag: string, o: DurationFlagOptions = {}): (v: string) => number {
  return (v: string) => {
    let ms: number;
    if (/^\d+$/.test(v.trim())) {
      ms = Number(v);
      (o.warn ?? ((l) => process.stderr.write(`${l}\n`)))(`warning: ${flag} ${v} (milliseconds) is deprecated; write ${goDuration(ms)}`);
    } else {
      try {
        ms = parseDuration(v);
      } catch (e) {
        throw new DurationError(`${flag} "${v}" is not a duration (examples: 500ms, 2s, 1m30s)${e instanceof DurationError ? '' : `: ${(e as Error).message}`}`);
      }
    }
    if (o.min !== undefined && ms < o.min) throw new DurationError(`${flag} "${v}" must be at least ${goDuration(o.min)}`);
    return ms;
  };
}

/** Milliseconds as a Go duration that parses back exactly: 2000 → "2s", 90000 → "1m30s", 1500 → "1500ms". */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  return ms % 1000 !== 0 ? `${ms}ms` : formatDuration(ms);
}

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** --kubeconfig and --context (kubectl's names and meaning); -n/--namespace is added by each command with its own help. */
export function kubeOptions(cmd: Command, kubeconfigHelp = 'kubeconfig file (default: $KUBECONFIG, a list merged like kubectl; else ~/.kube/config; else in-cluster)'): Command {
  return cmd.option('--kubeconfig <file>', kubeconfigHelp).option('--context <name>', 'kubeconfig context to use (default: its current-context)');
}
