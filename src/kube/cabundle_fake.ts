// In-memory ObjectStore for tests: resourceVersions, 404s, JSON patch `test` failures and injected errors behave
// like the API server's, so callers are tested against the same contract as KubeObjectStore.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { JsonPatchOp, ObjectRef, ObjectStore } from './cabundle.js';

/** What the API server answers with a status code (client-node's ApiException carries `code` the same way). */
export class FakeApiError extends Error {
  override name = 'FakeApiError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

type Verb = 'read' | 'jsonPatch' | 'create' | 'replace' | 'apply';

export class FakeObjectStore implements ObjectStore {
  private readonly objects = new Map<string, KubernetesObject>();
  private version = 1;
  /** Every call, as "verb Kind/ns/name", for assertions on order. */
  readonly calls: string[] = [];
  /** Return an error to make a call fail (e.g. 403 for a missing RBAC rule). */
  failWith: (verb: Verb, ref: ObjectRef) => Error | undefined = () => undefined;

  constructor(initial: readonly KubernetesObject[] = []) {
    for (const o of initial) this.put(structuredClone(o));
  }

  private static key(ref: { kind?: string; name?: string; namespace?: string }): string {
    return `${ref.kind}/${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
  }

  private static refOf(o: KubernetesObject): ObjectRef {
    return { apiVersion: o.apiVersion!, kind: o.kind!, name: o.metadata!.name!, ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}) };
  }

  private put(o: KubernetesObject): void {
    o.metadata = { ...o.metadata, resourceVersion: String(this.version++) };
    this.objects.set(FakeObjectStore.key({ kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace }), o);
  }

  private enter(verb: Verb, ref: ObjectRef): void {
    this.calls.push(`${verb} ${FakeObjectStore.key(ref)}`);
    const e = this.failWith(verb, ref);
    if (e) throw e;
  }

  /** The stored object (a copy), for assertions. */
  get(ref: { kind: string; name: string; namespace?: string }): any {
    const o = this.objects.get(FakeObjectStore.key(ref));
    return o && structuredClone(o);
  }

  async read(ref: ObjectRef): Promise<KubernetesObject | undefined> {
    this.enter('read', ref);
    return this.get(ref);
  }

  async jsonPatch(ref: ObjectRef, ops: readonly JsonPatchOp[]): Promise<void> {
    this.enter('jsonPatch', ref);
    const current = this.get(ref);
    if (!current) throw new FakeApiError(404, `${FakeObjectStore.key(ref)} not found`);
    for (const op of ops) applyOp(current, op);
    this.put(current);
  }

  async create(obj: KubernetesObject): Promise<void> {
    const ref = FakeObjectStore.refOf(obj);
    this.enter('create', ref);
    if (this.get(ref)) throw new FakeApiError(409, `${FakeObjectStore.key(ref)} already exists`);
    this.put(structuredClone(obj));
  }

  /** Server-side apply, simplified: creates, or sets every top-level field the object gives (metadata merged). */
  async apply(obj: KubernetesObject): Promise<void> {
    const ref = FakeObjectStore.refOf(obj);
    this.enter('apply', ref);
    const current = this.get(ref);
    const next = structuredClone(obj) as any;
    if (current) next.metadata = { ...current.metadata, ...next.metadata };
    else next.metadata = { ...next.metadata, uid: `uid-${this.version}` };
    this.put(next);
  }

  /** Deletes an object, as a user or the garbage collector would (tests only). */
  remove(ref: { kind: string; name: string; namespace?: string }): void {
    this.objects.delete(FakeObjectStore.key(ref));
  }

  /** Stores an object as another client would (tests only). */
  set(obj: KubernetesObject): void {
    this.put(structuredClone(obj));
  }

  async replace(obj: KubernetesObject): Promise<void> {
    const ref = FakeObjectStore.refOf(obj);
    this.enter('replace', ref);
    const current = this.get(ref);
    if (!current) throw new FakeApiError(404, `${FakeObjectStore.key(ref)} not found`);
    if (obj.metadata?.resourceVersion !== current.metadata.resourceVersion) throw new FakeApiError(409, 'the object has been modified');
    this.put(structuredClone(obj));
  }
}

/** The subset of RFC 6902 the API server applies for us: test, add (object member or replace), replace. */
function applyOp(doc: any, op: JsonPatchOp): void {
  const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = parts.pop()!;
  let parent = doc;
  for (const p of parts) {
    parent = parent?.[p];
    if (parent === undefined || parent === null) throw new FakeApiError(422, `path ${op.path} does not exist`);
  }
  if (op.op === 'test') {
    if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new FakeApiError(422, `test failed at ${op.path}`);
  } else if (op.op === 'replace') {
    if (!(last in parent)) throw new FakeApiError(422, `replace: ${op.path} does not exist`);
    parent[last] = structuredClone(op.value);
  } else {
    parent[last] = structuredClone(op.value);
  }
}
