#!/usr/bin/env node
// The `governor` command: every subcommand runs the same engines as the servers.
// Conventions (kubectl's, src/cli/conventions.ts): exit code 0 success, 1 denied / violations / failures, 2 usage or input
// errors (commander's own included); -o/--output validated; Go durations; --kubeconfig/--context/-n.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { registerServe } from './cli/serve.js';
import { registerLint } from './cli/lint.js';
import { registerReview } from './cli/review.js';
import { registerTest } from './cli/test.js';
import { registerSimulate } from './cli/simulate.js';
import { registerHpa } from './cli/hpa.js';
import { registerKeda } from './cli/keda.js';
import { registerMigrate } from './cli/migrate.js';
import { registerConvert } from './cli/convert.js';
import { registerCerts } from './cli/certs.js';
import { registerCompletion } from './cli/completion.js';
import { registerExport } from './cli/export.js';
import { registerVersion } from './cli/version.js';
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

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('governor')
    .description('kube-governor: policy-driven autoscaling and governance at admission')
    .version(buildInfo().version)
    // Commander's errors (unknown flag, missing argument, bad value) are thrown, not exited with 1: main() makes them 2.
    // Set before the commands are added: they inherit it.
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  registerServe(program);
  registerLint(program);
  registerReview(program);
  registerTest(program);
  registerSimulate(program);
  registerHpa(program);
  registerKeda(program);
  registerMigrate(program);
  registerConvert(program);
  registerCerts(program);
  registerExport(program);
  registerVersion(program);
  registerCompletion(program);
  invalidArgumentErrors(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((e) => {
    if (e instanceof CommanderError) {
      // Commander printed the message (or the help, or the version) already.
      process.exit(e.exitCode === 0 ? EXIT_OK : EXIT_USAGE);
    }
    process.stderr.write(`governor: ${(e as Error).message}\n`);
    process.exit(exitCodeFor(e));
  });
