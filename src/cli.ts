#!/usr/bin/env node
// The `governor` command: every subcommand runs the same engines as the servers.
import { Command } from 'commander';
import { registerServe } from './cli/serve.js';
import { registerLint } from './cli/lint.js';
import { registerReview } from './cli/review.js';
import { registerTest } from './cli/test.js';
import './adapter/register.js'; // the `adapter` component of `governor serve`
import './admission/register.js'; // the `webhook` component of `governor serve`
import './keda/register.js'; // the `keda` component of `governor serve` (--keda-scaler-port)
import { registerSimulate } from './cli/simulate.js';
import { registerHpa } from './cli/hpa.js';
import { registerKeda } from './cli/keda.js';
import { registerMigrate } from './cli/migrate.js';
import { registerCerts } from './cli/certs.js';

export function buildProgram(): Command {
  const program = new Command();
  program.name('governor').description('kube-governor: policy-driven autoscaling and governance at admission').version('0.1.0');
  registerServe(program);
  registerLint(program);
  registerReview(program);
  registerTest(program);
  registerSimulate(program);
  registerHpa(program);
  registerKeda(program);
  registerMigrate(program);
  registerCerts(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((e) => {
    process.stderr.write(`governor: ${(e as Error).message}\n`);
    process.exit(2);
  });
