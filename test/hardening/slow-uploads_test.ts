// Stalled uploads (issue 17, point 2) against `governor serve` as the image runs it (the build, in a child process with
// a GC hook): many connections each send most of a 3 MiB body and stall. Memory stays under the pod limit, a normal
// review still answers meanwhile, the stalled ones are answered 503 (shed) or cut off by the request timeout, and the
// memory goes back after they close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { normalReview, rssMiB, stalledUpload, startServe } from '../../bench/slow-uploads.js';

const ROOT = join(import.meta.dirname, '..', '..');
/** manifests/base/deployment.yaml: resources.limits.memory. */
const POD_LIMIT_MIB = 256;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The production JavaScript (tsconfig.build.json) in a scratch directory: what the image runs, without tsx's own memory. */
function buildDist(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kg-dist-'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist'), '--sourceMap', 'false'], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

test('300 stalled 3 MiB uploads: RSS stays under the pod limit, a normal review answers, memory returns after they close', { timeout: 240_000 }, async () => {
  const build = buildDist();
  const server = await startServe([], { gcHook: true, dist: join(build, 'dist', 'cli.js') });
  const pid = server.child.pid!;
  const sockets: TLSSocket[] = [];
  try {
    await sleep(500);
    const baseline = await server.gc();
    const outcomes: Record<string, number> = {};
    let holding = true;
    let settled = 0; // sent all their bytes, or already ended
    const connections = 300;
    let peak = 0;
    const sample = () => (peak = Math.max(peak, rssMiB(pid)));
    const sampler = setInterval(sample, 100);
    for (let i = 0; i < connections; i++) {
      let counted = false;
      const settle = () => !counted && (counted = true) && settled++;
      sockets.push(
        stalledUpload(server.port, server.ca, 3 * 1024 * 1024 - 1024, (how) => {
          settle();
          if (holding) outcomes[how] = (outcomes[how] ?? 0) + 1;
        }, settle),
      );
      if (i % 20 === 19) await sleep(10);
    }
    // The flood of bytes is over (each upload sent its bytes or was cut off); what remains is stalled. Far more was
    // sent than the budget (16 MiB) holds: the oldest were shed to make room.
    const floodEnd = Date.now() + 60_000;
    while (settled < connections && Date.now() < floodEnd) await sleep(100);
    assert.equal(settled, connections, 'every upload sent its bytes or was cut off');
    const normal = await normalReview(server.port, server.ca);
    assert.equal(normal.status, 200, `a normal review during the stalled uploads: ${JSON.stringify(normal)}`);
    assert.ok(normal.ms < 2000, `the normal review took ${normal.ms} ms`);
    // Every stalled upload ends within the request timeout (10 s) plus the check interval: 503 or 408 or closed.
    const deadline = Date.now() + 15_000;
    while (Object.values(outcomes).reduce((a, b) => a + b, 0) < connections && Date.now() < deadline) await sleep(250);
    sample();
    clearInterval(sampler);
    const ended = Object.values(outcomes).reduce((a, b) => a + b, 0);
    assert.equal(ended, connections, `uploads still open after the request timeout: ${JSON.stringify(outcomes)}`);
    assert.ok((outcomes['503'] ?? 0) > 0, `some uploads shed with 503: ${JSON.stringify(outcomes)}`);
    assert.ok(peak < POD_LIMIT_MIB, `peak RSS ${peak} MiB (baseline ${baseline} MiB) over the pod limit of ${POD_LIMIT_MIB} MiB`);
    holding = false;
    for (const s of sockets) s.destroy();
    await sleep(1500);
    const after = await server.gc();
    process.stdout.write(`# slow uploads: baseline ${baseline} MiB, peak ${peak} MiB, after close ${after} MiB, outcomes ${JSON.stringify(outcomes)}\n`);
    // What stays is allocator slack, not buffers: bounded by the budget, whatever was sent.
    assert.ok(after - baseline < 48, `RSS after the uploads closed: ${after} MiB against ${baseline} MiB before`);
    // And the server still serves.
    assert.equal((await normalReview(server.port, server.ca)).status, 200);
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
    rmSync(build, { recursive: true, force: true });
  }
});
