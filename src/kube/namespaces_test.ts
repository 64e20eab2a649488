import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Namespace } from '@kubernetes/client-node';
import { NamespaceCache, StaticNamespaces, type NamespaceInformer, type NamespaceLookup } from './namespaces.js';
import { silentLogger } from '../observability/log.js';

class FakeInformer implements NamespaceInformer {
  readonly objects = new Map<string, V1Namespace>();
  private onError: ((err?: unknown) => void) | undefined;
  starts = 0;
  failNextStart = false;
  /** As client-node does: the failed list is reported through 'error' and start() resolves. */
  failNextListQuietly = false;
  get(name: string) {
    return this.objects.get(name);
  }
  on(_verb: 'error', cb: (err?: unknown) => void) {
    this.onError = cb;
  }
  async start() {
    this.starts++;
    if (this.failNextStart) {
      this.failNextStart = false;
      throw new Error('connection refused');
    }
    if (this.failNextListQuietly) {
      this.failNextListQuietly = false;
      this.onError?.(new Error('namespaces is forbidden'));
    }
  }
  async stop() {}
  emitError(e: Error) {
    this.onError?.(e);
  }
}

const SHOP = { labels: { tier: 'prod' }, annotations: { 'cost-center': 'CC-1' } };

// One suite for every NamespaceLookup: the fake and the informer-backed cache answer alike.
async function contract(name: string, make: () => Promise<NamespaceLookup>) {
  test(`${name}: known namespaces give labels and annotations, unknown ones undefined, never throwing`, async () => {
    const l = await make();
    assert.equal(l.ready(), true);
    assert.deepEqual(l.get('shop'), SHOP);
    assert.equal(l.get('nowhere'), undefined);
  });
}

contract('StaticNamespaces', async () => new StaticNamespaces([['shop', SHOP]]));
contract('NamespaceCache', async () => {
  const inf = new FakeInformer();
  inf.objects.set('shop', { metadata: { name: 'shop', ...SHOP } });
  const c = new NamespaceCache(inf, { log: silentLogger });
  await c.start();
  return c;
});

const settle = () => new Promise((r) => setTimeout(r, 20));

const firstListFailures: [string, (inf: FakeInformer) => void][] = [
  ['a failed first list (start() rejecting)', (inf) => (inf.failNextStart = true)],
  ['a first list that fails through the error callback (start() resolving)', (inf) => (inf.failNextListQuietly = true)],
];
for (const [how, fail] of firstListFailures) {
  test(`NamespaceCache: ${how} is not a sync: not ready until the list is retried`, async () => {
    const inf = new FakeInformer();
    fail(inf);
    const c = new NamespaceCache(inf, { log: silentLogger, restartDelayMs: 1 });
    await c.start();
    assert.equal(c.ready(), false);
    await settle();
    assert.equal(c.ready(), true);
    assert.equal(inf.starts, 2);
    await c.stop();
  });
}

test('NamespaceCache: a watch error restarts the informer, never after stop', async () => {
  const inf = new FakeInformer();
  const c = new NamespaceCache(inf, { log: silentLogger, restartDelayMs: 1 });
  await c.start();
  assert.equal(inf.starts, 1);
  inf.emitError(new Error('watch closed'));
  await settle();
  assert.equal(inf.starts, 2);
  await c.stop();
  inf.emitError(new Error('after stop'));
  await settle();
  assert.equal(inf.starts, 2, 'no restart after stop');
  assert.deepEqual(c.get('missing'), undefined);
});
