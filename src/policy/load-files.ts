// Thin I/O shell: reads policy files from files or directories, and watches them for changes.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parsePolicyText, type AnyPolicy } from './parse.js';
import type { PolicyStore, ReloadOutcome } from './store.js';
import type { PolicyError } from './types.js';

const POLICY_FILE = /\.(ya?ml|json)$/i;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

/** Lists policy files under the given paths (directories recursively, hidden entries skipped), sorted for stable results. */
export async function listPolicyFiles(paths: readonly string[]): Promise<{ files: string[]; errors: PolicyError[] }> {
  const files: string[] = [];
  const errors: PolicyError[] = [];
  async function walk(p: string, explicit: boolean): Promise<void> {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      errors.push({ file: p, path: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      return;
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = await readdir(p);
      } catch (e) {
        errors.push({ file: p, path: '', message: `cannot list: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
        return;
      }
      // Hidden entries include a ConfigMap volume's ..data and timestamped directories; the visible names are links into them.
      const entries = names.filter((n) => !n.startsWith('.')).sort();
      for (const name of entries) await walk(join(p, name), false);
    } else if (explicit || POLICY_FILE.test(p)) {
      files.push(p);
    }
  }
  for (const p of paths) await walk(p, true);
  return { files, errors };
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
