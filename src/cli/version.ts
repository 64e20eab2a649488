// `governor version`: the version, the git commit when the build recorded it, and the Node.js version; -o json|yaml.
import type { Command } from 'commander';
import { buildInfo, type BuildInfo } from '../observability/version.js';
import { formatData, outputOption } from './conventions.js';

export function formatVersion(info: BuildInfo, output: string): string {
  if (output === 'json' || output === 'yaml') return formatData(output, info);
  return `governor version ${info.version}\ngit commit: ${info.commit ?? 'unknown'}\nnode: ${info.node}\n`;
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the version, git commit and Node.js version (--version prints the version alone)')
    .addOption(outputOption(['text', 'json', 'yaml'], 'text'))
    .action((o: { output: string }) => {
      process.stdout.write(formatVersion(buildInfo(), o.output));
    });
}
