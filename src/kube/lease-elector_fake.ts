// In-memory LeaseApi for tests: resourceVersions, create/update conflicts and injected errors as the API server has them.
import { LeaseConflictError, type LeaseApi, type LeaseRecord } from './lease-elector.js';

export class FakeLeaseApi implements LeaseApi {
  record: LeaseRecord | undefined;
  private version = 0;
  /** The next call of this kind throws this error once. */
  failNext: { op: 'get' | 'create' | 'update'; error: Error } | undefined;
  readonly calls: string[] = [];

  private fail(op: 'get' | 'create' | 'update'): void {
    this.calls.push(op);
    if (this.failNext?.op === op) {
      const e = this.failNext.error;
      this.failNext = undefined;
      throw e;
    }
  }

  async get(): Promise<LeaseRecord | undefined> {
    this.fail('get');
    return this.record ? { ...this.record } : undefined;
  }

  async create(r: LeaseRecord): Promise<LeaseRecord> {
    this.fail('create');
    if (this.record) throw new LeaseConflictError('exists');
    this.record = { ...r, resourceVersion: String(++this.version) };
    return { ...this.record };
  }

  async update(r: LeaseRecord): Promise<LeaseRecord> {
    this.fail('update');
    if (!this.record || r.resourceVersion !== this.record.resourceVersion) throw new LeaseConflictError('changed');
    this.record = { ...r, resourceVersion: String(++this.version) };
    return { ...this.record };
  }
}
