// `governor convert kyverno`: Kyverno ClusterPolicy/Policy files → GovernancePolicies; refused rules are listed with
// their reason (stderr, and `refused` in -o json), never dropped silently.
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { convertKyvernoPolicy, isKyvernoPolicy, KyvernoInputError, type GovernancePolicyDocument, type Refusal } from '../policy/kyverno.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, outputOption, partialExit, repeatable, UsageError } from './conventions.js';
import { loadManifests, ReviewUsageError } from './review.js';

export interface ConvertOptions {
  /** Files, directories (their *.yaml, *.yml, *.json) or "-" for stdin. */
  readonly filenames: readonly string[];
  readonly output?: 'yaml' | 'json';
  /** Exit 0 even when rules were refused (the translated ones are written either way). */
  readonly partial?: boolean;
  readonly stdin?: () => Promise<string>;
}

/** A refused rule with the file it came from. */
export interface ConvertRefusal extends Refusal {
  readonly file: string;
}

/** `governor convert kyverno -o json`. */
export interface KyvernoConversionReport {
  readonly apiVersion: 'governor.io/v1alpha1';
  readonly kind: 'KyvernoConversion';
  readonly summary: { readonly kyvernoPolicies: number; readonly rules: number; readonly converted: number; readonly refused: number };
  readonly policies: readonly GovernancePolicyDocument[];
  readonly refused: readonly ConvertRefusal[];
}

/** Converts every Kyverno policy of the inputs; returns the exit code (0, 1 when rules were refused unless partial). */
export async function convertKyverno(o: ConvertOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  if (o.filenames.length === 0) throw new UsageError('no input: give -f FILE|DIR|- (repeatable)');
  const objects = await loadManifests(o.filenames, o.stdin);
  const taken = new Set<string>();
  const policies: GovernancePolicyDocument[] = [];
  const refused: ConvertRefusal[] = [];
  let found = 0;
  let skipped = 0;
  for (const { file, document, object } of objects) {
    if (!isKyvernoPolicy(object)) {
      skipped++;
      continue;
    }
    found++;
    let c;
    try {
      c = convertKyvernoPolicy(object, taken);
    } catch (e) {
      if (e instanceof KyvernoInputError) throw new UsageError(`${file} (document ${document}): ${e.message}`);
      throw e;
    }
    policies.push(...c.policies);
    refused.push(...c.refused.map((r) => ({ file, ...r })));
  }
  if (found === 0) throw new UsageError(`no Kyverno ClusterPolicy or Policy in ${o.filenames.join(', ')}`);
  for (const r of refused) err.write(`${r.file}: ${r.policy} rule ${r.rule}: refused: ${r.reason}\n`);
  if (o.output === 'json') {
    const report: KyvernoConversionReport = {
      apiVersion: 'governor.io/v1alpha1',
      kind: 'KyvernoConversion',
      summary: { kyvernoPolicies: found, rules: policies.length + refused.length, converted: policies.length, refused: refused.length },
      policies,
      refused,
    };
    out.write(`${JSON.stringify(report, null, 2)}\n`);
  } else out.write(policies.map((p) => stringify(p, { lineWidth: 0 })).join('---\n'));
  err.write(
    `${found} Kyverno polic${found === 1 ? 'y' : 'ies'}: ${policies.length} rule(s) converted, ${refused.length} refused${skipped ? `; ${skipped} other document(s) ignored` : ''}${refused.length && o.partial ? ' (--partial)' : ''}\n`,
  );
  return partialExit(refused.length, o.partial);
}

export function registerConvert(program: Command): void {
  const convert = program.command('convert').description('translate policies of other engines into GovernancePolicies');
  convert
    .command('kyverno')
    .description(
      'Kyverno ClusterPolicy/Policy → GovernancePolicy, one per translated rule; rules without an exact equivalent are refused with the reason on stderr (exit 1 unless --partial)',
    )
    .option('-f, --filename <path>', 'Kyverno policy file, directory or "-" for stdin (repeatable)', repeatable, [])
    .addOption(outputOption(['yaml', 'json'], 'yaml', 'yaml: the GovernancePolicies, for kubectl apply -f -; json: a KyvernoConversion with policies and the refused rules'))
    .option('--partial', 'exit 0 when some rules were refused (the translated ones are written either way)', false)
    .action(async (opts: { filename: string[]; output: 'yaml' | 'json'; partial: boolean }) => {
      try {
        process.exitCode = await convertKyverno({ filenames: opts.filename, output: opts.output, partial: opts.partial }, process.stdout, process.stderr);
      } catch (e) {
        if (!(e instanceof UsageError) && !(e instanceof ReviewUsageError)) throw e;
        process.stderr.write(`governor convert kyverno: ${e.message}\n`);
        process.exitCode = EXIT_USAGE;
      }
    });
}
