// `governor lint`: schema and semantic errors of policy files, with file, document, line and path.
// Exit 1 on policy errors, 2 when a path cannot be read or holds no policy files (input errors).
import type { Command } from 'commander';
import { loadCheckedPolicies } from '../policy/load-files.js';
import { formatPolicyError, type PolicyError } from '../policy/types.js';
import { governanceWarnings } from '../governance/lint-checks.js';
import type { GovernancePolicy } from '../policy/governance-policy.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, formatData, outputOption } from './conventions.js';

export interface LintOptions {
  /** text (default): findings on stderr, a summary on stdout; json or yaml: a LintReport on stdout. */
  readonly output?: 'text' | 'json' | 'yaml';
}

const unreadable = (e: PolicyError) => e.message.startsWith('cannot read');

export async function lint(paths: readonly string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream, o: LintOptions = {}): Promise<number> {
  const r = await loadCheckedPolicies(paths);
  const errors = r.errors;
  const noFiles = r.files.length === 0 && errors.length === 0;
  const counts = new Map<string, number>();
  for (const p of r.policies) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1);
  // Semantic warnings across GovernancePolicies: reported, not fatal (the set is valid and would load).
  const warnings = errors.length ? [] : governanceWarnings(r.policies.filter((p): p is GovernancePolicy => p.kind === 'GovernancePolicy'));
  const code = noFiles || errors.some(unreadable) ? EXIT_USAGE : errors.length ? EXIT_FAILED : EXIT_OK;
  if (o.output === 'json' || o.output === 'yaml') {
    out.write(
      formatData(o.output, {
        apiVersion: 'governor.io/v1alpha1',
        kind: 'LintReport',
        ok: code === EXIT_OK,
        files: r.files.length,
        policies: Object.fromEntries(counts),
        errors: noFiles ? [{ file: paths.join(', '), path: '', message: 'no policy files found' }] : errors,
        warnings,
      }),
    );
    return code;
  }
  for (const e of errors) err.write(`${formatPolicyError(e)}\n`);
  if (noFiles) {
    err.write(`no policy files found in ${paths.join(', ')}\n`);
    return code;
  }
  const summary = [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'no policies';
  if (errors.length) {
    err.write(`${errors.length} error(s) in ${r.files.length} file(s)\n`);
    return code;
  }
  for (const w of warnings) err.write(`warning: ${formatPolicyError(w)}\n`);
  out.write(`ok: ${summary} in ${r.files.length} file(s)${warnings.length ? `, ${warnings.length} warning(s)` : ''}\n`);
  return code;
}

export function registerLint(program: Command): void {
  program
    .command('lint')
    .description('validate policy files (schema and semantics); exit code 1 on policy errors, 2 when a path cannot be read')
    .argument('<paths...>', 'policy files or directories')
    .addOption(outputOption(['text', 'json', 'yaml'], 'text', 'json and yaml: a LintReport with every error and warning'))
    .action(async (paths: string[], o: LintOptions) => {
      process.exitCode = await lint(paths, process.stdout, process.stderr, o);
    });
}
