// Memory stays flat under repeated good and bad requests: the heap after a full GC, batch after batch, in a child
// process started with --expose-gc. The bound is generous; a leak of even a few hundred bytes per request exceeds it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';

test('heap after GC stays flat over batches of mixed requests (admission and metric routes)', { timeout: 120_000 }, async () => {
  const batches = 6;
  const perBatch = 440;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--expose-gc', '--import', 'tsx', join(import.meta.dirname, 'memory-child.ts'), String(batches), String(perBatch)], { cwd: join(import.meta.dirname, '..', '..'), timeout: 110_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const { heaps } = JSON.parse(out.trim().split('\n').at(-1)!) as { heaps: number[] };
  assert.equal(heaps.length, batches);
  // The first batch warms up (JIT, caches, metric label sets); from the second on the heap must not grow.
  const growth = heaps.at(-1)! - heaps[1]!;
  const mib = (x: number) => (x / 2 ** 20).toFixed(1);
  assert.ok(growth < 8 * 2 ** 20, `heap grew ${mib(growth)} MiB over ${(batches - 2) * perBatch} requests: ${heaps.map(mib).join(', ')} MiB`);
});
