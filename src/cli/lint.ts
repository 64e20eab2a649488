// `governor lint`: schema and semantic errors of policy files, with file, document, line and path; exit 1 on error.
import type { Command } from 'commander';
import { loadPolicyFiles } from '../policy/load-files.js';
import { buildPolicySet } from '../policy/policy-set.js';
import { formatPolicyError } from '../policy/types.js';
import { governanceWarnings } from '../governance/lint-checks.js';
import type { GovernancePolicy } from '../policy/governance-policy.js';

export async function lint(paths: readonly string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const r = await loadPolicyFiles(paths);
  const errors = [...r.errors, ...(r.errors.length ? [] : buildPolicySet(r.policies, 1).errors)];
  for (const e of errors) err.write(`${formatPolicyError(e)}\n`);
  if (r.files.length === 0 && errors.length === 0) {
    err.write(`no policy files found in ${paths.join(', ')}\n`);
    return 1;
  }
  const counts = new Map<string, number>();
  for (const p of r.policies) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1);
  const summary = [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'no policies';
  if (errors.length) {
    err.write(`${errors.length} error(s) in ${r.files.length} file(s)\n`);
    return 1;
  }
  // Semantic warnings across GovernancePolicies: reported, not fatal (the set is valid and would load).
  const warnings = governanceWarnings(r.policies.filter((p): p is GovernancePolicy => p.kind === 'GovernancePolicy'));
  for (const w of warnings) err.write(`warning: ${formatPolicyError(w)}\n`);
  out.write(`ok: ${summary} in ${r.files.length} file(s)${warnings.length ? `, ${warnings.length} warning(s)` : ''}\n`);
  return 0;
}

export function registerLint(program: Command): void {
  program
    .command('lint')
    .description('validate policy files (schema and semantics); exit code 1 on error')
    .argument('<paths...>', 'policy files or directories')
    .action(async (paths: string[]) => {
      process.exitCode = await lint(paths, process.stdout, process.stderr);
    });
}
