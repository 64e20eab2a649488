// Thin I/O shell: reads policy files from files or directories, and watches them for changes.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parsePolicyText, type AnyPolicy } from './parse.js';
import { buildPolicySet } from './policy-set.js';
import type { PolicyStore, ReloadOutcome } from './store.js';
import type { PolicyError } from './types.js';

const POLICY_FILE = /\.(ya?ml|json)$/i;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

/** What the walk could not read: the path, whether stat or readdir failed, and the error code (or message). */
export interface UnreadablePath {
  readonly path: string;
  readonly action: 'read' | 'list';
  readonly code: string;
}

/**
 * The one directory walk of the project (policy files, manifests for `governor review`, GovernanceTest suites): files
 * under the given paths, directories recursively, hidden entries skipped, in sorted order for stable results. A path
 * named explicitly is taken whatever its name; inside directories only names matching `pattern`.
 */
export async function listFiles(paths: readonly string[], pattern: RegExp): Promise<{ files: string[]; errors: UnreadablePath[] }> {
  const files: string[] = [];
  const errors: UnreadablePath[] = [];
  const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  async function walk(p: string, explicit: boolean): Promise<void> {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      errors.push({ path: p, action: 'read', code: code(e) });
      return;
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = await readdir(p);
      } catch (e) {
        errors.push({ path: p, action: 'list', code: code(e) });
        return;
      }
      // Hidden entries include a ConfigMap volume's ..data and timestamped directories; the visible names are links into them.
      const entries = names.filter((n) => !n.startsWith('.')).sort();
      for (const name of entries) await walk(join(p, name), false);
    } else if (explicit || pattern.test(p)) {
      files.push(p);
    }
  }
  for (const p of paths) await walk(p, true);
  return { files, errors };
}

/** Lists policy files under the given paths (see listFiles). */
export async function listPolicyFiles(paths: readonly string[]): Promise<{ files: string[]; errors: PolicyError[] }> {
  const r = await listFiles(paths, POLICY_FILE);
  return { files: r.files, errors: r.errors.map((e) => ({ file: e.path, path: '', message: `cannot ${e.action}: ${e.code}` })) };
}

export interface LoadResult {
  readonly files: readonly string[];
  readonly policies: AnyPolicy[];
  readonly errors: PolicyError[];
}

/** A file name as errors and origins show it: relative to cwd when under it. */
function shownName(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

/**
 * Reads and parses every policy file; error file names are relative to cwd for readability. Never throws: an unreadable
 * path or file is an error naming it (and the store keeps what that path gave before).
 */
export async function loadPolicyFiles(paths: readonly string[]): Promise<LoadResult> {
  const listed = await listPolicyFiles(paths);
  const files = listed.files;
  const errors: PolicyError[] = listed.errors.map((e) => ({ ...e, file: shownName(e.file) }));
  const policies: AnyPolicy[] = [];
  for (const file of files) {
    const shown = shownName(file);
    let text: string;
    try {
      const st = await stat(file);
      if (st.size > MAX_FILE_BYTES) {
        errors.push({ file: shown, path: '', message: `file is larger than ${MAX_FILE_BYTES} bytes` });
        continue;
      }
      text = await readFile(file, 'utf8');
    } catch (e) {
      errors.push({ file: shown, path: '', message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    const r = parsePolicyText(text, shown);
    policies.push(...r.policies);
    errors.push(...r.errors);
  }
  return { files, policies, errors };
}

/**
 * What the offline commands (lint, review, test, simulate, hpa, keda) act on: the files read and parsed, then, when
 * every document parsed, cross-checked as the servers' policy store does (buildPolicySet). `errors` holds the read and
 * parse errors, else the cross-check errors; `policies` is every parsed policy.
 */
export async function loadCheckedPolicies(paths: readonly string[]): Promise<LoadResult> {
  const r = await loadPolicyFiles(paths);
  return r.errors.length ? r : { ...r, errors: buildPolicySet(r.policies, 1).errors };
}

/** A cheap fingerprint of the files (names, sizes, mtimes) so polling only re-parses after a change. */
async function fingerprint(paths: readonly string[]): Promise<string> {
  const { files } = await listPolicyFiles(paths);
  const parts: string[] = [];
  for (const f of files) {
    try {
      const st = await stat(f);
      parts.push(`${f}:${st.size}:${st.mtimeMs}`);
    } catch {
      parts.push(`${f}:gone`);
    }
  }
  return parts.join('|');
}

export interface PolicyFileWatcherOptions {
  readonly paths: readonly string[];
  readonly store: PolicyStore;
  readonly intervalMs?: number;
  readonly onReload?: (outcome: ReloadOutcome, files: readonly string[]) => void;
}

/**
 * Polls the policy paths (robust across editors' rename-on-save and ConfigMap symlink swaps, which fs.watch misses)
 * and offers each changed set to the store.
 */
export class PolicyFileWatcher {
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private running = false;
  private read = false;
  constructor(private readonly opts: PolicyFileWatcherOptions) {}

  /** True once the files have been listed and parsed (and offered to the store) at least once. */
  loaded(): boolean {
    return this.read;
  }

  async reload(): Promise<ReloadOutcome> {
    this.last = await fingerprint(this.opts.paths);
    const r = await loadPolicyFiles(this.opts.paths);
    // Read before the offer, so that what listens to the store (readiness) sees the source as read with its content.
    this.read = true;
    const outcome = this.opts.store.offer(r.policies, r.errors);
    this.opts.onReload?.(outcome, r.files);
    return outcome;
  }

  start(): void {
    const every = this.opts.intervalMs ?? 2000;
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if ((await fingerprint(this.opts.paths)) !== this.last) await this.reload();
    } catch {
      // Listing and reading never throw (errors are reported through the store); nothing else is expected here, and
      // a rejected timer callback would end the process.
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
