// An invalid setting (a flag, a flag combination, a configuration value): the command's usage, not a failure at run
// time. The CLI exits 2 for it (src/cli/conventions.ts); servers refuse to start before anything listens.
export class ConfigError extends Error {
  override name = 'ConfigError';
}
