#!/usr/bin/env node
// The `governor` command: every subcommand runs the same engines as the servers.
// Conventions (kubectl's, src/cli/conventions.ts): exit code 0 success, 1 denied / violations / failures, 2 usage or input
// errors (commander's own included); -o/--output validated; Go durations; --kubeconfig/--context/-n.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { EXIT_OK, EXIT_USAGE, exitCodeFor } from './cli/conventions.js';
import { buildInfo } from './observability/version.js';

/** Every flag parser's error becomes commander's InvalidArgumentError: reported with the flag's name, exit code 2. */
function invalidArgumentErrors(cmd: Command): void {
  for (const o of cmd.options) {
    const parse = o.parseArg;
    if (!parse) continue;
    o.parseArg = ((value: string, previous: unknown) => {
      try {
        return parse.call(o, value, previous);
      } catch (e) {
        if (e instanceof InvalidArgumentError) throw e;
        throw new InvalidArgumentError((e as Error).message);
      }
    }) as typeof parse;
  }
  for (const c of cmd.commands) invalidArgumentErrors(c);
}

type Register = (program: Command) => void;

/**
 * Each command's module, imported only when it is needed: `governor review` must not load the servers (express,
 * client-node, prom-client, grpc) nor `governor serve` the converters and exporters of the CLI. The order is the help's.
 */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  serve: async () => (await import('./cli/serve.js')).registerServe,
  lint: async () => (await import('./cli/lint.js')).registerLint,
  review: async () => (await import('./cli/review.js')).registerReview,
  test: async () => (await import('./cli/test.js')).registerTest,
  simulate: async () => (await import('./cli/simulate.js')).registerSimulate,
  hpa: async () => (await import('./cli/hpa.js')).registerHpa,
  keda: async () => (await import('./cli/keda.js')).registerKeda,
  migrate: async () => (await import('./cli/migrate.js')).registerMigrate,
  convert: async () => (await import('./cli/convert.js')).registerConvert,
  certs: async () => (await import('./cli/certs.js')).registerCerts,
  export: async () => (await import('./cli/export.js')).registerExport,
  version: async () => (await import('./cli/version.js')).registerVersion,
  completion: async () => (await import('./cli/completion.js')).registerCompletion,
};

/**
 * The commands argv runs: the one it names; none for `--version` alone; else (no command, `help`, `completion`, an
 * unknown word, which commander answers with the full list) every command.
 */
export function commandsFor(argv: readonly string[]): string[] {
  const first = argv.find((a) => !a.startsWith('-'));
  if (first === undefined && argv.some((a) => a === '-V' || a === '--version') && !argv.some((a) => a === '-h' || a === '--help')) return [];
  return first !== undefined && first !== 'completion' && Object.hasOwn(COMMANDS, first) ? [first] : Object.keys(COMMANDS);
}

/** The program with the commands argv (the arguments after `governor`) needs registered. */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const registers = await Promise.all(commandsFor(argv).map((name) => COMMANDS[name]!()));
  const program = new Command();
  program
    .name('governor')
    .description('kube-governor: policy-driven autoscaling and governance at admission')
    .version(buildInfo().version)
    // Commander's errors (unknown flag, missing argument, bad value) are thrown, not exited with 1: main() makes them 2.
    // Set before the commands are added: they inherit it.
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  for (const register of registers) register(program);
  invalidArgumentErrors(program);
  return program;
}

buildProgram(process.argv.slice(2))
  .then((program) => program.parseAsync(process.argv))
  .catch((e) => {
    if (e instanceof CommanderError) {
      // Commander printed the message (or the help, or the version) already.
      process.exit(e.exitCode === 0 ? EXIT_OK : EXIT_USAGE);
    }
    process.stderr.write(`governor: ${(e as Error).message}\n`);
    process.exit(exitCodeFor(e));
  });
